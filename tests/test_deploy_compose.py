"""deploy/compose/docker-compose.yaml against the code it runs.

No Docker engine runs here, so the file is checked the way `docker compose config` and the
containers would read it: the Compose Specification's JSON schema, variable interpolation,
and then every reference into swapwatch (subcommands and flags, config files through
swapwatch's own loaders, ports, topic names, secret variables) against the code's defaults.
"""

from __future__ import annotations

import base64
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from support.deploy_manifests import (
    COMPOSE_DIR,
    OTELCOL_CONFIG,
    ROOT,
    collector_build_version,
    compose_environment,
    compose_mounts,
    endpoint_port,
    image_parts,
    interpolate,
    kafka_version,
    load_compose,
    parse_swapwatch,
    project_version,
)
from swapwatch.collector.command import config_from_args
from swapwatch.collector.config import CollectorConfig
from swapwatch.detector.alerts.dispatcher import build_notifiers
from swapwatch.detector.config import SwapwatchConfig, load_config
from swapwatch.detector.runtime.command import runtime_config
from swapwatch.detector.runtime.config import KafkaRuntimeConfig

SECRETS = {"PAGERDUTY_ENABLED": "true", "PAGERDUTY_ROUTING_KEY": "k" * 32,
           "SLACK_ENABLED": "true", "SLACK_WEBHOOK_URL": "https://hooks.slack.test/T/B/X"}


@pytest.mark.parametrize(("text", "environ", "expected"), [
    ("${A:-d}", {}, "d"),
    ("${A:-d}", {"A": ""}, "d"),
    ("${A-d}", {"A": ""}, ""),
    ("${A-d}", {}, "d"),
    ("x${A}y", {"A": "1"}, "x1y"),
    ("$${A}", {"A": "1"}, "${A}"),
    ("${A}", {}, ""),
])
def test_interpolation_reads_variables_as_compose_does(
        text: str, environ: dict[str, str], expected: str) -> None:
    assert interpolate(text, environ) == expected


def test_interpolation_refuses_a_missing_required_variable() -> None:
    with pytest.raises(AssertionError, match="set it"):
        interpolate("${KEY:?set it}", {})


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


def _service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    assert name in compose["services"], f"no service {name!r}"
    return dict(compose["services"][name])


def _mounted(service: dict[str, Any], container_path: str) -> Path:
    source = compose_mounts(service).get(container_path)
    assert isinstance(source, Path), f"{container_path} is not bind-mounted from the repo"
    assert source.is_file(), f"{source} does not exist"
    return source


def _published(service: dict[str, Any]) -> dict[int, int]:
    """container port -> host port"""
    pairs = (str(p).split(":") for p in service.get("ports", []))
    return {int(container): int(host) for host, container in pairs}


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text())
    jsonschema.validate(compose, schema)  # raises with the offending path


def test_images_are_pinned_and_match_the_project_versions(compose: dict[str, Any]) -> None:
    images = {name: image_parts(svc["image"]) for name, svc in compose["services"].items()}
    assert images["kafka"] == ("apache/kafka", kafka_version())
    assert images["kafka-topics"] == images["kafka"]
    assert images["otelcol"] == ("otel/opentelemetry-collector-contrib",
                                 collector_build_version())
    for name in ("collect", "detect"):
        assert images[name] == ("swapwatch", project_version())
        build = compose["services"][name]["build"]
        assert (COMPOSE_DIR / build["context"] / build["dockerfile"]).resolve() == \
            ROOT / "Dockerfile"


def test_topics_are_named_once_and_match_the_code_defaults(compose: dict[str, Any]) -> None:
    topics = compose["x-topics"]
    runtime = KafkaRuntimeConfig()
    assert topics["SPANS_TOPIC"] == CollectorConfig().kafka.topic == runtime.spans_topic
    assert topics["CALLS_TOPIC"] == runtime.calls_topic
    assert topics["DEAD_LETTER_TOPIC"] == runtime.dead_letter_topic
    creator = _service(compose, "kafka-topics")
    env = compose_environment(creator)
    assert {k: env[k] for k in topics} == topics
    script = creator["command"][0]
    for variable in ("SPANS_TOPIC", "CALLS_TOPIC", "DEAD_LETTER_TOPIC"):
        assert f'create "${variable}"' in script  # after compose's $$ -> $ unescaping
    # the broker creates nothing by itself, so every topic the code uses must be in the list
    assert compose_environment(_service(compose, "kafka"))["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] \
        == "false"
    assert creator["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in ("otelcol", "collect", "detect"):
        condition = compose["services"][name]["depends_on"]["kafka-topics"]["condition"]
        assert condition == "service_completed_successfully"


def test_kafka_runs_in_kraft_mode_with_a_valid_cluster_id(compose: dict[str, Any]) -> None:
    kafka = _service(compose, "kafka")
    env = compose_environment(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    node_id, _, voter = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].partition("@")
    assert node_id == env["KAFKA_NODE_ID"]
    listeners = dict(item.split("://") for item in env["KAFKA_LISTENERS"].split(","))
    assert voter == f"{kafka['hostname']}{listeners[env['KAFKA_CONTROLLER_LISTENER_NAMES']]}"
    protocols = dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
                     .split(","))
    assert set(listeners) == set(protocols)
    # a KRaft cluster id is a UUID: 16 bytes, base64url without padding
    cluster_id = env["CLUSTER_ID"]
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16 and len(cluster_id) == 22
    advertised = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    assert advertised["PLAINTEXT"] == f"kafka{listeners['PLAINTEXT']}"
    assert "kafka-broker-api-versions.sh" in " ".join(kafka["healthcheck"]["test"])
    for replication in ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
                        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"):
        assert env[replication] == "1"  # one broker


def test_collect_command_parses_and_its_config_validates(compose: dict[str, Any]) -> None:
    service = _service(compose, "collect")
    bootstrap = compose_environment(_service(compose, "kafka-topics"))["BOOTSTRAP"]
    module, args = parse_swapwatch(service["command"])
    assert module.__name__ == "swapwatch.collector.command"
    assert args.kafka == bootstrap
    args.config = _mounted(service, str(args.config))
    config = config_from_args(args)  # swapwatch's own validation of the collect: section
    assert config.kafka.topic == compose["x-topics"]["SPANS_TOPIC"]
    assert config.kafka.bootstrap_servers == bootstrap
    grpc, http = endpoint_port(config.grpc_endpoint), endpoint_port(config.http_endpoint)
    defaults = CollectorConfig()
    assert (grpc, http) == (endpoint_port(defaults.grpc_endpoint),
                            endpoint_port(defaults.http_endpoint))
    assert set(_published(service)) == {grpc, http}
    assert f"127.0.0.1:{http}/healthz" in " ".join(service["healthcheck"]["test"])


def _detect(environ: dict[str, str]) -> tuple[Any, SwapwatchConfig]:
    """The detect service's parsed command and its config, with ``environ`` as the .env."""
    service = _service(load_compose(environ), "detect")
    module, args = parse_swapwatch(service["command"])
    assert module.__name__ == "swapwatch.detector.commands.detect"
    config = load_config(_mounted(service, args.config), environ=compose_environment(service))
    return args, config


def test_detect_command_parses_and_its_config_validates(compose: dict[str, Any]) -> None:
    args, config = _detect({})
    service = _service(compose, "detect")
    topics = compose["x-topics"]
    assert args.kafka == compose_environment(_service(compose, "kafka-topics"))["BOOTSTRAP"]
    assert args.stage == "both"
    runtime = runtime_config(config.runtime, args)
    assert runtime.kafka.spans_topic == topics["SPANS_TOPIC"]
    assert runtime.kafka.calls_topic == topics["CALLS_TOPIC"]
    assert runtime.kafka.dead_letter_topic == topics["DEAD_LETTER_TOPIC"]
    assert runtime.kafka.calls_partitions == int(topics["CALLS_PARTITIONS"])
    # the state directory is the shared volume, so a partition's state follows it
    assert compose_mounts(service)[str(runtime.state_dir)] in compose["volumes"]
    assert runtime.metrics_host == "0.0.0.0"
    health = " ".join(service["healthcheck"]["test"])
    assert f"127.0.0.1:{runtime.metrics_port}/healthz" in health
    # replicas beyond the partitions of either stage's input topic would idle
    replicas = service["deploy"]["replicas"]
    assert 1 <= replicas <= min(int(topics["SPANS_PARTITIONS"]),
                                int(topics["CALLS_PARTITIONS"]))
    assert "container_name" not in service  # a fixed name would forbid --scale


def test_alert_secrets_are_off_by_default_and_wired_by_name() -> None:
    _, config = _detect({})
    assert build_notifiers(config.alerts, environ={}) == {}  # nothing to page without .env

    _, config = _detect(SECRETS)
    environ = compose_environment(_service(load_compose(SECRETS), "detect"))
    notifiers = build_notifiers(config.alerts, environ=environ)
    assert set(notifiers) == {"pagerduty", "slack"}
    assert config.alerts.pagerduty is not None and config.alerts.slack is not None
    assert config.alerts.pagerduty.resolved_routing_key(environ) == SECRETS["PAGERDUTY_ROUTING_KEY"]
    assert config.alerts.slack.resolved_webhook_url(environ) == SECRETS["SLACK_WEBHOOK_URL"]
    example = dict(line.split("=", 1) for line in (COMPOSE_DIR / ".env.example").read_text()
                   .splitlines() if line and not line.startswith("#"))
    assert set(example) == set(SECRETS)


def test_otelcol_service_mounts_the_collector_config(compose: dict[str, Any]) -> None:
    service = _service(compose, "otelcol")
    target = service["command"][0].removeprefix("--config=")
    assert _mounted(service, target) == OTELCOL_CONFIG
    receivers = CollectorConfig()
    assert set(_published(service)) == {endpoint_port(receivers.grpc_endpoint),
                                        endpoint_port(receivers.http_endpoint)}
    # the two OTLP front doors publish different host ports
    assert not set(_published(service).values()) & set(
        _published(_service(compose, "collect")).values())
    # every ${env:...} the collector config reads is set for the container
    text = OTELCOL_CONFIG.read_text()
    env = compose_environment(service)
    for name in set(re.findall(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)", text)):
        assert name in env, f"otelcol config reads ${{env:{name}}}, compose does not set it"
