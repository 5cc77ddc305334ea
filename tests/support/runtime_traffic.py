"""Simulated LLM traffic as the Kafka records a Collector would write, for runtime tests.

``scenario_messages`` turns a simulator scenario into ``otlp_proto`` record values (batches of
spans, as the Collector's batch processor makes them) in span-end order, plus the calls they
carry; ``replay_alerts`` runs the same calls through the in-process pipeline: the reference a
streaming run must reproduce.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
from swapwatch.detector.calls import LlmCall
from swapwatch.detector.detection.config import DetectionConfig
from swapwatch.detector.detection.engine import Detector
from swapwatch.detector.ingest.decode import calls_from_protobuf
from swapwatch.detector.runtime.pipeline import CollectingSink, Pipeline
from swapwatch.detector.simulator.generate import generate
from swapwatch.detector.simulator.spans import SpanWriter
from swapwatch.detector.simulator.suite import build_scenario


@dataclass
class Traffic:
    messages: list[bytes]  # otlp_proto record values, in span-end order
    calls: list[LlmCall]  # the calls those messages carry, as ingest reads them


def _value(target: AnyValue, value: dict[str, Any]) -> None:
    if "stringValue" in value:
        target.string_value = value["stringValue"]
    elif "intValue" in value:
        target.int_value = int(value["intValue"])
    elif "doubleValue" in value:
        target.double_value = float(value["doubleValue"])
    elif "boolValue" in value:
        target.bool_value = bool(value["boolValue"])
    elif "arrayValue" in value:
        for item in value["arrayValue"].get("values", []):
            _value(target.array_value.values.add(), item)


def _attributes(target: Any, attributes: list[dict[str, Any]]) -> None:
    for kv in attributes:
        _value(target.add(key=kv["key"]).value, kv["value"])


def otlp_json_to_proto(line: dict[str, Any]) -> bytes:
    """One OTLP JSON document → protobuf bytes (the simulator's subset; much faster than
    ``json_format``)."""
    data = TracesData()
    for rs_json in line["resourceSpans"]:
        rs = data.resource_spans.add()
        _attributes(rs.resource.attributes, rs_json["resource"]["attributes"])
        for ss_json in rs_json["scopeSpans"]:
            ss = rs.scope_spans.add()
            ss.scope.name = ss_json["scope"].get("name", "")
            ss.scope.version = ss_json["scope"].get("version", "")
            for sp in ss_json["spans"]:
                span = ss.spans.add(
                    trace_id=bytes.fromhex(sp["traceId"]), span_id=bytes.fromhex(sp["spanId"]),
                    parent_span_id=bytes.fromhex(sp.get("parentSpanId", "")),
                    name=sp["name"], kind=sp.get("kind", 0),
                    start_time_unix_nano=int(sp["startTimeUnixNano"]),
                    end_time_unix_nano=int(sp["endTimeUnixNano"]))
                _attributes(span.attributes, sp.get("attributes", []))
                if "status" in sp:
                    span.status.code = int(sp["status"].get("code", 0))
                for ev in sp.get("events", []):
                    event = span.events.add(name=ev["name"],
                                            time_unix_nano=int(ev.get("timeUnixNano", 0)))
                    _attributes(event.attributes, ev.get("attributes", []))
    return data.SerializeToString()


def scenario_messages(name: str = "silent-downgrade", seed: int = 1, days: float = 2.0,
                      batch_size: int = 200, batch_window_s: float = 30.0,
                      services: set[str] | None = None) -> Traffic:
    """``services``: keep only these services' calls (smaller, faster tests)."""
    generated: list[LlmCall] = []
    generate(build_scenario(name, seed=seed, days=days),
             lambda c: generated.append(c) if services is None or c.service in services
             else None)
    out = io.BytesIO()
    with SpanWriter(out, dialect="otel", batch_size=batch_size,
                    batch_window_s=batch_window_s) as writer:
        for call in generated:
            writer.write(call)
    messages = [otlp_json_to_proto(json.loads(line))
                for line in out.getvalue().splitlines() if line.strip()]
    calls = [call for message in messages for call in calls_from_protobuf(message)]
    return Traffic(messages, calls)


def replay_alerts(calls: list[LlmCall], config: DetectionConfig | None = None) -> list[str]:
    """Dedup keys and changed_at of the alerts a replay of ``calls`` raises, sorted."""
    detector = Detector(config or DetectionConfig())
    sink = CollectingSink()
    Pipeline(detector, sink).process(calls)
    sink.submit(detector.flush())
    return sorted(f"{a.dedup_key}@{a.status}" for a in sink.alerts)


class RecordingDetector:
    """A picklable stand-in detector that remembers which spans it saw (never alerts)."""

    def __init__(self) -> None:
        self.span_ids: list[str] = []

    def process(self, call: LlmCall) -> list:  # type: ignore[type-arg]
        self.span_ids.append(call.span_id or "")
        return []
