"""``swapwatch collect`` without a broker: filtering, keying, request decoding, configuration."""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

import pytest
import yaml
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from swapwatch.collector.command import add_arguments, config_from_args
from swapwatch.collector.config import CollectorConfig
from swapwatch.collector.filter import SpanRouter
from swapwatch.collector.producer import PendingBudget, producer_settings
from swapwatch.collector.receiver import BadPayload, decode_http_body
from swapwatch.detector.ingest import dialects

ROOT = Path(__file__).resolve().parents[1]


def _request() -> ExportTraceServiceRequest:
    """Two services; LLM spans of two models, one tool span, one HTTP span."""
    req = ExportTraceServiceRequest()
    for service in ("shop", "search"):
        rs = req.resource_spans.add()
        rs.resource.attributes.add(key="service.name", value=AnyValue(string_value=service))
        scope = rs.scope_spans.add()
        scope.scope.name = "opentelemetry.instrumentation.openai_v2"
        for i, (attrs) in enumerate([
            {"gen_ai.request.model": "gpt-4o", "swapwatch.surface": "chat"},
            {"gen_ai.request.model": "gpt-4o-mini", "swapwatch.surface": "chat"},
            {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"},
            {"http.route": "/checkout"},
        ]):
            span = scope.spans.add(name=f"s{i}", trace_id=bytes([len(service)] * 16),
                                   span_id=bytes([len(service), i + 1] * 4),
                                   start_time_unix_nano=10**18, end_time_unix_nano=10**18 + 10)
            for key, value in attrs.items():
                span.attributes.add(key=key, value=AnyValue(string_value=value))
    return req


def _spans(payload: bytes) -> list[tuple[str, str]]:
    msg = ExportTraceServiceRequest.FromString(payload)
    return [(rs.resource.attributes[0].value.string_value, s.name)
            for rs in msg.resource_spans for ss in rs.scope_spans for s in ss.spans]


def test_llm_spans_are_kept_and_keyed_by_series() -> None:
    routed = SpanRouter(CollectorConfig()).route(_request())
    assert (routed.kept_spans, routed.dropped_spans) == (4, 4)
    by_key = {key: _spans(value) for key, value in routed.records}
    assert by_key == {
        b"shop|chat|-|gpt-4o|-": [("shop", "s0")],
        b"shop|chat|-|gpt-4o-mini|-": [("shop", "s1")],
        b"search|chat|-|gpt-4o|-": [("search", "s0")],
        b"search|chat|-|gpt-4o-mini|-": [("search", "s1")],
    }
    # each record keeps its resource and scope: what the Collector's kafka exporter writes
    msg = ExportTraceServiceRequest.FromString(routed.records[0][1])
    assert msg.resource_spans[0].scope_spans[0].scope.name.endswith("openai_v2")


@pytest.mark.parametrize(("key_by", "keys"), [
    ("trace_id", {(b"04" * 16), (b"06" * 16)}),
    ("none", {None}),
])
def test_collector_default_keyings(key_by: str, keys: set[bytes | None]) -> None:
    routed = SpanRouter(CollectorConfig(key_by=key_by)).route(_request())  # type: ignore[arg-type]
    assert {key for key, _ in routed.records} == keys
    assert sum(len(_spans(v)) for _, v in routed.records) == 4


def test_keep_all_and_extra_prefixes() -> None:
    assert SpanRouter(CollectorConfig(keep="all")).route(_request()).kept_spans == 8
    routed = SpanRouter(CollectorConfig(also_keep_attribute_prefixes=["http."])).route(_request())
    assert routed.kept_spans == 6  # the HTTP spans too, keyed by their trace
    assert (b"04" * 16) in {key for key, _ in routed.records}


def test_http_bodies_decode_in_every_encoding() -> None:
    req = _request()
    raw = req.SerializeToString()
    assert decode_http_body(raw, "application/x-protobuf", "") == req
    assert decode_http_body(gzip.compress(raw), "application/x-protobuf", "gzip") == req
    line = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
        "name": "chat", "startTimeUnixNano": "1", "endTimeUnixNano": "2"}]}]}]})
    decoded = decode_http_body(line.encode(), "application/json; charset=utf-8", "")
    assert decoded.resource_spans[0].scope_spans[0].spans[0].span_id.hex() == "eee19b7ec3c1b174"


@pytest.mark.parametrize(("body", "ctype", "encoding", "message"), [
    (b"\x0a\xff\xff", "application/x-protobuf", "", "not an OTLP ExportTraceServiceRequest"),
    (b"{nope", "application/json", "", "not OTLP JSON"),
    (b"plain", "application/x-protobuf", "gzip", "not valid gzip"),
    (b"", "text/plain", "", "unsupported Content-Type"),
    (b"", "application/json", "br", "unsupported Content-Encoding"),
])
def test_bad_payloads_say_why(body: bytes, ctype: str, encoding: str, message: str) -> None:
    with pytest.raises(BadPayload, match=message):
        decode_http_body(body, ctype, encoding)


def test_pending_budget_refuses_beyond_the_limit_but_never_starves_one_big_export() -> None:
    budget = PendingBudget(limit=100)
    assert budget.try_take(500)  # nothing pending: an oversized export may still go alone
    assert not budget.try_take(1)
    budget.give_back(500)
    assert budget.try_take(100) and not budget.try_take(1)


def test_producer_settings_lose_nothing() -> None:
    settings = producer_settings(CollectorConfig().kafka)
    assert settings["acks"] == "all" and settings["enable_idempotence"] is True
    assert settings["retries"] > 0 and settings["max_in_flight_requests_per_connection"] <= 5
    assert settings["delivery_timeout_ms"] >= settings["request_timeout_ms"]


def test_flags_override_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "swapwatch.yaml"
    path.write_text(yaml.safe_dump({"collect": {"key_by": "trace_id",
                                                "kafka": {"topic": "from_file"}}}))
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    cfg = config_from_args(parser.parse_args(
        ["--config", str(path), "--kafka", "k:9092", "--http", "none", "--grpc", "127.0.0.1:0"]))
    assert (cfg.kafka.bootstrap_servers, cfg.kafka.topic, cfg.key_by) == ("k:9092", "from_file",
                                                                          "trace_id")
    assert cfg.http_endpoint is None and cfg.grpc_endpoint == "127.0.0.1:0"


def test_otelcol_config_does_the_same_job() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "otelcol" / "config.yaml").read_text())
    pipeline = config["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"] and pipeline["exporters"] == ["kafka"]
    assert pipeline["processors"][0] == "memory_limiter"  # refuse before buffering
    assert {"filter/llm_spans", "batch"} <= set(pipeline["processors"])
    kafka = config["exporters"]["kafka"]
    assert kafka["traces"] == {"topic": "otlp_spans", "encoding": "otlp_proto"}
    assert kafka["producer"]["required_acks"] == -1
    condition = config["processors"]["filter/llm_spans"]["traces"]["span"][0]
    for marker in dialects.MODEL_MARKERS:  # the same notion of "LLM span" as ingest's
        assert f'attributes["{marker}"] == nil' in condition
