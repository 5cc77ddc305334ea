"""deploy/otelcol/config.yaml: validated by a real OpenTelemetry Collector, and checked
against swapwatch's topic and ports.

The collector is built from the Go module proxy with ocb (deploy/otelcol-build/build.sh) from
the components the config uses, at the version of the otelcol-contrib image the deployment
runs, into ~/.cache/swapwatch/otelcol-<version>; later runs reuse the binary. Its `validate`
command runs every component's own config validation, which no schema outside the collector
knows (the filter processor's OTTL conditions, the kafka exporter's partitioner settings).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.deploy_manifests import BUILDER_CONFIG, DEPLOY, OTELCOL_CONFIG
from swapwatch.collector.config import CollectorConfig
from swapwatch.detector.runtime.config import KafkaRuntimeConfig

KINDS = ("receivers", "processors", "exporters", "extensions", "connectors")
BUILD_TIMEOUT_S = 1500


def _config() -> dict[str, Any]:
    config = yaml.safe_load(OTELCOL_CONFIG.read_text())
    assert isinstance(config, dict)
    return config


def _type(component_id: str) -> str:
    return component_id.split("/", 1)[0]  # "kafka/spans" is a kafka exporter named spans


def _env_for(text: str) -> dict[str, str]:
    """A value for every ${env:NAME} the config reads (as the container would have)."""
    names = set(re.findall(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)", text))
    return {**os.environ, **{name: "kafka:9092" for name in names}}


@pytest.fixture(scope="session")
def otelcol() -> Path:
    """The minimal collector binary, built once per machine (a cold build takes minutes)."""
    build = subprocess.run([str(DEPLOY / "otelcol-build" / "build.sh")], capture_output=True,
                           text=True, timeout=BUILD_TIMEOUT_S, check=False)
    assert build.returncode == 0, f"building the collector failed:\n{build.stderr[-4000:]}"
    binary = Path(build.stdout.strip().splitlines()[-1])
    assert binary.is_file() and os.access(binary, os.X_OK)
    return binary


# --- structure, readable without a collector ------------------------------------------------
def test_pipelines_reference_only_defined_components() -> None:
    config = _config()
    pipelines = config["service"]["pipelines"]
    assert "traces" in {_type(name) for name in pipelines}
    for name, pipeline in pipelines.items():
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                assert component in (config.get(kind) or {}), f"{name}: {component} undefined"
    for extension in config["service"].get("extensions", []):
        assert extension in config.get("extensions", {})


def test_traces_reach_kafka_as_otlp_proto_on_the_detectors_topic() -> None:
    config = _config()
    pipeline = next(p for n, p in config["service"]["pipelines"].items()
                    if _type(n) == "traces")
    exporters = [e for e in pipeline["exporters"] if _type(e) == "kafka"]
    assert len(exporters) == 1
    kafka = config["exporters"][exporters[0]] or {}
    # kafka exporter v0.155: per-signal `traces:` settings; the top-level ones are deprecated
    traces = kafka.get("traces") or {}
    assert traces.get("encoding", kafka.get("encoding", "otlp_proto")) == "otlp_proto"
    topic = traces.get("topic", kafka.get("topic", "otlp_spans"))
    assert topic == KafkaRuntimeConfig().spans_topic == CollectorConfig().kafka.topic
    processors = [_type(p) for p in pipeline.get("processors", [])]
    # refuse data first when memory runs short, drop non-LLM spans before batching them
    assert processors[0] == "memory_limiter"
    assert "filter" in processors
    assert processors.index("filter") < processors.index("batch")


def test_otlp_receiver_listens_where_services_send() -> None:
    config = _config()
    receiver = next(v for k, v in config["receivers"].items() if _type(k) == "otlp")
    ports = {protocol: int(str(settings["endpoint"]).rpartition(":")[2])
             for protocol, settings in receiver["protocols"].items()}
    defaults = CollectorConfig()
    assert ports == {"grpc": int(str(defaults.grpc_endpoint).rpartition(":")[2]),
                     "http": int(str(defaults.http_endpoint).rpartition(":")[2])}


def test_builder_manifest_holds_exactly_the_components_the_config_uses() -> None:
    config, manifest = _config(), yaml.safe_load(BUILDER_CONFIG.read_text())
    version = "v" + str(manifest["dist"]["version"])
    for kind in KINDS:
        used = {_type(c) for c in (config.get(kind) or {})}
        modules = [m["gomod"].split() for m in manifest.get(kind, [])]
        # by the collector's naming convention, component type "memory_limiter" of kind
        # "processors" lives in module .../memorylimiterprocessor
        built = {path.rsplit("/", 1)[1].removesuffix(kind[:-1]) for path, _ in modules}
        assert built == {t.replace("_", "") for t in used}, kind
        assert {v for _, v in modules} <= {version}, f"{kind}: versions must match {version}"


# --- the real collector ---------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(BUILD_TIMEOUT_S + 120)
def test_real_collector_validates_the_config(otelcol: Path) -> None:
    components = subprocess.run([str(otelcol), "components"], capture_output=True, text=True,
                                timeout=60, check=True).stdout
    for component in ("otlp", "memory_limiter", "batch", "filter", "kafka"):
        assert re.search(rf"name: {component}\b", components), component
    result = subprocess.run([str(otelcol), "validate", f"--config={OTELCOL_CONFIG}"],
                            capture_output=True, text=True, timeout=60, check=False,
                            env=_env_for(OTELCOL_CONFIG.read_text()))
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
@pytest.mark.timeout(BUILD_TIMEOUT_S + 120)
def test_real_collector_rejects_a_broken_config(otelcol: Path, tmp_path: Path) -> None:
    # proves `validate` runs the components' own checks: the filter processor parses its OTTL
    # conditions at validation, so a condition that does not parse must fail
    config = _config()
    processor = next(k for k in config["processors"] if _type(k) == "filter")
    config["processors"][processor] = {"traces": {"span": ['attributes["gen_ai.system"] ==']}}
    broken = tmp_path / "config.yaml"
    broken.write_text(yaml.safe_dump(config))
    result = subprocess.run([str(otelcol), "validate", f"--config={broken}"],
                            capture_output=True, text=True, timeout=60, check=False,
                            env=_env_for(broken.read_text()))
    assert result.returncode != 0
    assert processor in result.stderr and "condition" in result.stderr
