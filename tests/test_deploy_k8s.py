"""deploy/k8s against the Kubernetes API schemas and against the code it runs.

The schemas are the ones kubernetes-validate bundles (no cluster, no network): strict mode,
so a misspelt field fails. Then every reference is followed: ConfigMap keys and Secret keys
that containers read, the swapwatch config in the ConfigMap through swapwatch's own loader,
probe ports against the runtime's metrics port and the collector's endpoints, topic names and
partition counts against the code's defaults, replicas against partitions.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from support.deploy_manifests import (
    K8S_DIR,
    endpoint_port,
    expand_k8s,
    image_parts,
    k8s_documents,
    k8s_objects,
    kafka_version,
    parse_swapwatch,
    project_version,
)
from swapwatch.collector.command import config_from_args
from swapwatch.collector.config import CollectorConfig
from swapwatch.detector.alerts.dispatcher import build_notifiers
from swapwatch.detector.config import SwapwatchConfig, load_config
from swapwatch.detector.runtime.command import runtime_config
from swapwatch.detector.runtime.config import KafkaRuntimeConfig, RuntimeConfig

Objects = dict[tuple[str, str], dict[str, Any]]
WORKLOADS = ("swapwatch-collect", "swapwatch-repartition", "swapwatch-detect")


@pytest.fixture(scope="module")
def objects() -> Objects:
    return k8s_objects()


def _pod(objects: Objects, kind: str, name: str) -> dict[str, Any]:
    return dict(objects[(kind, name)]["spec"]["template"]["spec"])


def _containers(objects: Objects) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for (kind, name), obj in objects.items():
        if kind in ("Deployment", "Job"):
            pod = obj["spec"]["template"]["spec"]
            for container in pod["containers"]:
                yield name, pod, container


def _container_env(objects: Objects, container: dict[str, Any]) -> dict[str, str]:
    """The container's environment as the kubelet builds it from ConfigMaps and Secrets."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(objects[("ConfigMap", source["configMapRef"]["name"])]["data"])
    for var in container.get("env", []):
        ref = var.get("valueFrom", {})
        if "configMapKeyRef" in ref:
            data = objects[("ConfigMap", ref["configMapKeyRef"]["name"])]["data"]
            env[var["name"]] = data[ref["configMapKeyRef"]["key"]]
        elif "secretKeyRef" in ref:
            data = objects[("Secret", ref["secretKeyRef"]["name"])]["stringData"]
            env[var["name"]] = data[ref["secretKeyRef"]["key"]]
        else:
            env[var["name"]] = var["value"]
    return env


def _argv(objects: Objects, container: dict[str, Any]) -> list[str]:
    env = _container_env(objects, container)
    return [expand_k8s(arg, env) for arg in container["args"]]


def _mounted_file(objects: Objects, pod: dict[str, Any], container: dict[str, Any],
                  path: str) -> str:
    """The content of the ConfigMap key mounted at ``path`` in ``container``."""
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container["volumeMounts"]:
        prefix = mount["mountPath"].rstrip("/") + "/"
        if path.startswith(prefix):
            config_map = volumes[mount["name"]]["configMap"]["name"]
            return str(objects[("ConfigMap", config_map)]["data"][path[len(prefix):]])
    raise AssertionError(f"nothing mounted at {path}")


def _detector_config(objects: Objects, workload: str) -> tuple[Any, SwapwatchConfig,
                                                               RuntimeConfig]:
    pod = _pod(objects, "Deployment", workload)
    container = pod["containers"][0]
    module, args = parse_swapwatch(_argv(objects, container))
    assert module.__name__ == "swapwatch.detector.commands.detect"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "swapwatch.yaml"
        path.write_text(_mounted_file(objects, pod, container, args.config))
        config = load_config(path, environ=_container_env(objects, container))
    return args, config, runtime_config(config.runtime, args)


def _port(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    return next(int(p["containerPort"]) for p in container["ports"] if p["name"] == port)


def test_every_manifest_validates_against_the_kubernetes_schemas() -> None:
    version = kubernetes_validate.latest_version()
    kinds = set()
    for path, document in k8s_documents():
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as err:
            raise AssertionError(f"{path.name} {document['kind']}: {err}") from None
        kinds.add(document["kind"])
    assert {"Deployment", "Service", "ConfigMap", "Secret", "PodDisruptionBudget",
            "PersistentVolumeClaim", "Job"} <= kinds


def test_kustomization_lists_every_manifest_and_the_swapwatch_image() -> None:
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk
    assert kustomization["images"] == [{"name": "swapwatch", "newTag": project_version()}]


def test_images_are_pinned_to_the_project_versions(objects: Objects) -> None:
    expected = {"swapwatch": project_version(), "apache/kafka": kafka_version()}
    seen = set()
    for workload, _pod_spec, container in _containers(objects):
        name, tag = image_parts(container["image"])
        assert expected.get(name) == tag, f"{workload}: {container['image']}"
        seen.add(name)
    assert seen == set(expected)


def test_every_container_has_requests_limits_and_a_locked_down_context(objects: Objects) -> None:
    for workload, pod, container in _containers(objects):
        resources = container["resources"]
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources[bound]), f"{workload}: {bound}"
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_topics_are_named_once_and_match_the_code_defaults(objects: Objects) -> None:
    topics = objects[("ConfigMap", "swapwatch-kafka")]["data"]
    defaults = KafkaRuntimeConfig()
    assert topics["SPANS_TOPIC"] == CollectorConfig().kafka.topic == defaults.spans_topic
    assert topics["CALLS_TOPIC"] == defaults.calls_topic
    assert topics["DEAD_LETTER_TOPIC"] == defaults.dead_letter_topic
    job = _pod(objects, "Job", "swapwatch-topics")["containers"][0]
    script = job["args"][0]
    for variable in ("SPANS_TOPIC", "CALLS_TOPIC", "DEAD_LETTER_TOPIC", "REPLICATION_FACTOR"):
        assert f"${variable}" in script and variable in _container_env(objects, job)
    _, _, runtime = _detector_config(objects, "swapwatch-detect")
    assert runtime.kafka.calls_partitions == int(topics["CALLS_PARTITIONS"])
    assert runtime.kafka.replication_factor == int(topics["REPLICATION_FACTOR"])
    assert (runtime.kafka.spans_topic, runtime.kafka.calls_topic,
            runtime.kafka.dead_letter_topic) == (topics["SPANS_TOPIC"], topics["CALLS_TOPIC"],
                                                 topics["DEAD_LETTER_TOPIC"])


@pytest.mark.parametrize(("workload", "stage", "input_partitions"), [
    ("swapwatch-repartition", "repartition", "SPANS_PARTITIONS"),
    ("swapwatch-detect", "detect", "CALLS_PARTITIONS"),
])
def test_detector_stage_parses_validates_and_scales_with_partitions(
        objects: Objects, workload: str, stage: str, input_partitions: str) -> None:
    args, _, runtime = _detector_config(objects, workload)
    assert args.stage == stage
    assert args.kafka == objects[("ConfigMap", "swapwatch-kafka")]["data"]["KAFKA_BOOTSTRAP"]
    deployment = objects[("Deployment", workload)]
    partitions = int(objects[("ConfigMap", "swapwatch-kafka")]["data"][input_partitions])
    assert 1 <= deployment["spec"]["replicas"] <= partitions
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == 0
    container = _pod(objects, "Deployment", workload)["containers"][0]
    assert runtime.metrics_host == "0.0.0.0"  # the kubelet probes the pod IP
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] == "/healthz"
        assert _port(container, get["port"]) == runtime.metrics_port
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert str(runtime.state_dir) in mounts  # writable: the root filesystem is read-only


def test_detect_state_is_one_shared_volume(objects: Objects) -> None:
    pod = _pod(objects, "Deployment", "swapwatch-detect")
    _, _, runtime = _detector_config(objects, "swapwatch-detect")
    mount = next(m for m in pod["containers"][0]["volumeMounts"]
                 if m["mountPath"] == str(runtime.state_dir))
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    claim = objects[("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


def test_alert_secrets_reach_the_notifiers_by_the_names_the_config_reads(
        objects: Objects) -> None:
    _, config, _ = _detector_config(objects, "swapwatch-detect")
    container = _pod(objects, "Deployment", "swapwatch-detect")["containers"][0]
    environ = _container_env(objects, container)
    secret = objects[("Secret", "swapwatch-alerts")]["stringData"]
    assert config.alerts.pagerduty is not None and config.alerts.slack is not None
    assert environ[config.alerts.pagerduty.routing_key_env] == \
        secret["PAGERDUTY_ROUTING_KEY"]
    assert environ[config.alerts.slack.webhook_url_env] == secret["SLACK_WEBHOOK_URL"]
    assert set(build_notifiers(config.alerts, environ=environ)) == {"pagerduty", "slack"}
    # least privilege: the stage that sends no alerts does not see the secrets
    other = _pod(objects, "Deployment", "swapwatch-repartition")["containers"][0]
    assert not set(_container_env(objects, other)) & set(secret)


def test_collect_parses_validates_and_its_service_and_probes_match(objects: Objects) -> None:
    pod = _pod(objects, "Deployment", "swapwatch-collect")
    container = pod["containers"][0]
    module, args = parse_swapwatch(_argv(objects, container))
    assert module.__name__ == "swapwatch.collector.command"
    content = _mounted_file(objects, pod, container, str(args.config))
    with tempfile.TemporaryDirectory() as tmp:
        args.config = Path(tmp) / "collect.yaml"
        args.config.write_text(content)
        config = config_from_args(args)
    defaults = CollectorConfig()
    grpc, http = endpoint_port(config.grpc_endpoint), endpoint_port(config.http_endpoint)
    assert (grpc, http) == (endpoint_port(defaults.grpc_endpoint),
                            endpoint_port(defaults.http_endpoint)) == (4317, 4318)
    service = objects[("Service", "swapwatch-collect")]["spec"]
    targets = {p["port"]: _port(container, p["targetPort"]) for p in service["ports"]}
    assert targets == {grpc: grpc, http: http}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert (get["path"], _port(container, get["port"])) == ("/healthz", http)


def test_selectors_select_the_pods_they_are_meant_for(objects: Objects) -> None:
    for (kind, name), obj in objects.items():
        if kind == "Service":
            selector = obj["spec"]["selector"]
        elif kind == "PodDisruptionBudget":
            selector = obj["spec"]["selector"]["matchLabels"]
        else:
            continue
        labels = objects[("Deployment", name)]["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), f"{kind} {name}"
    for workload in WORKLOADS:
        spec = objects[("Deployment", workload)]["spec"]
        assert spec["selector"]["matchLabels"].items() <= \
            spec["template"]["metadata"]["labels"].items()
