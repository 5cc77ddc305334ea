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

from swapwatch.detector.calls import LlmCall
from swapwatch.detector.detection.config import DetectionConfig
from swapwatch.detector.detection.engine import Detector
from swapwatch.detector.ingest.decode import calls_from_protobuf
from swapwatch.detector.perf.traffic import traces_from_otlp_json
from swapwatch.detector.runtime.pipeline import CollectingSink, Pipeline
from swapwatch.detector.simulator.generate import generate
from swapwatch.detector.simulator.spans import SpanWriter
from swapwatch.detector.simulator.suite import build_scenario


@dataclass
class Traffic:
    messages: list[bytes]  # otlp_proto record values, in span-end order
    calls: list[LlmCall]  # the calls those messages carry, as ingest reads them


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
    messages = [traces_from_otlp_json(json.loads(line)).SerializeToString()
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
