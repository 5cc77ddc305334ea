"""Throughput on the same OTLP bytes: the floor, the replay, and where the replay's time goes.

- ``floor``: decode ``TracesData`` and walk every span's attributes into a dict
  (:func:`swapwatch.detector.ingest.bench.floor`): the least any consumer that looks at span
  attributes must do;
- ``replay``: what ``swapwatch detect`` does per partition, in process: decode + extract
  (:func:`~swapwatch.detector.ingest.decode.calls_from_protobuf`), then the runtime
  :class:`~swapwatch.detector.runtime.pipeline.Pipeline` (dedup window, event-time watermark,
  alerts) around a fresh :class:`~swapwatch.detector.detection.engine.Detector`;
- the breakdown: decode + extract alone, detection (pipeline) alone on extracted calls, and
  the Kafka runtime's internal hop (call records encoded and decoded, JSON).

Rounds alternate (floor, replay, floor, replay, ...) and each figure is its best round, so
that load from other processes hits every figure alike. Both wall-clock and process CPU time
are kept: on a shared machine CPU time is the steadier one.

>>> from swapwatch.detector.perf.traffic import fleet_calls, otlp_messages
>>> messages = otlp_messages(fleet_calls(100, seed=1), batch_size=50)
>>> result = compare(messages, rounds=1)
>>> result.floor.spans, result.replay.spans, result.replay.calls
(100, 100, 100)
>>> 0 < result.ratio("cpu") and 0 < result.ratio("wall")
True
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from swapwatch.detector.calls import LlmCall
from swapwatch.detector.detection.config import DetectionConfig
from swapwatch.detector.detection.engine import Detector
from swapwatch.detector.ingest.bench import floor as walk_attributes
from swapwatch.detector.ingest.decode import calls_from_protobuf
from swapwatch.detector.runtime.config import RuntimeConfig
from swapwatch.detector.runtime.dedup import DedupWindow
from swapwatch.detector.runtime.pipeline import CollectingSink, Pipeline
from swapwatch.detector.runtime.records import decode_calls, encode_calls, partition_key

Clock = Literal["wall", "cpu"]


@dataclass(frozen=True)
class Timing:
    """One timed pass: how many spans (and calls) in how many seconds."""

    spans: int
    wall_s: float
    cpu_s: float
    calls: int = 0

    def rate(self, clock: Clock = "wall") -> float:
        """Spans per second by ``clock``."""
        seconds = self.wall_s if clock == "wall" else self.cpu_s
        return self.spans / seconds if seconds > 0 else 0.0

    def to_dict(self) -> dict[str, float]:
        return {"spans": self.spans, "calls": self.calls, "wall_s": round(self.wall_s, 4),
                "cpu_s": round(self.cpu_s, 4),
                "spans_per_s_wall": round(self.rate("wall")),
                "spans_per_s_cpu": round(self.rate("cpu"))}


def best(timings: Iterable[Timing]) -> Timing:
    """The fastest pass (by wall clock and by CPU separately, as two runs' best)."""
    items = list(timings)
    return Timing(items[0].spans, min(t.wall_s for t in items), min(t.cpu_s for t in items),
                  items[0].calls)


def timed(spans: int, work: Callable[[], int]) -> Timing:
    """Run ``work`` (it returns the calls it handled) and time it both ways."""
    wall, cpu = time.perf_counter(), time.process_time()
    calls = work()
    return Timing(spans, time.perf_counter() - wall, time.process_time() - cpu, calls)


def floor_pass(messages: list[bytes]) -> int:
    for message in messages:
        walk_attributes(message)
    return 0


def replay_pipeline(detector: Detector | None = None) -> Pipeline:
    """The per-partition pipeline of ``swapwatch detect --kafka``, alerts kept in memory."""
    return Pipeline(detector or Detector(DetectionConfig()), CollectingSink(),
                    dedup=DedupWindow(RuntimeConfig().dedup_window))


def replay_pass(messages: list[bytes], pipeline: Pipeline | None = None,
                end_of_input: bool = True) -> int:
    """Decode, extract and detect every message; returns the calls detected."""
    pipeline = pipeline or replay_pipeline()
    calls = 0
    for message in messages:
        batch = calls_from_protobuf(message)
        calls += len(batch)
        pipeline.process(batch)
    detector = pipeline.detector
    if end_of_input and isinstance(detector, Detector):
        pipeline.alerts.submit(detector.flush())
    return calls


def extract_pass(messages: list[bytes]) -> list[list[LlmCall]]:
    return [calls_from_protobuf(message) for message in messages]


def detect_pass(batches: list[list[LlmCall]]) -> int:
    pipeline = replay_pipeline()
    for batch in batches:
        pipeline.process(batch)
    detector = pipeline.detector
    assert isinstance(detector, Detector)
    pipeline.alerts.submit(detector.flush())
    return sum(len(b) for b in batches)


def records_pass(batches: list[list[LlmCall]]) -> int:
    """The Kafka runtime's hop: calls grouped by series key, encoded, then decoded again."""
    calls = 0
    for batch in batches:
        by_key: dict[bytes, list[LlmCall]] = {}
        for call in batch:
            by_key.setdefault(partition_key(call, "series"), []).append(call)
        for group in by_key.values():
            calls += len(decode_calls(encode_calls(group)))
    return calls


@dataclass
class Comparison:
    """Best rounds of the floor, the replay and the replay's parts, on the same messages."""

    floor: Timing
    replay: Timing
    parts: dict[str, Timing] = field(default_factory=dict)

    def ratio(self, clock: Clock = "wall") -> float:
        """Replay spans/s over floor spans/s."""
        base = self.floor.rate(clock)
        return self.replay.rate(clock) / base if base else 0.0


def compare(messages: list[bytes], spans: int | None = None, rounds: int = 3,
            breakdown: bool = True) -> Comparison:
    """Floor and replay in alternating rounds (plus the breakdown, also alternated)."""
    from swapwatch.detector.perf.traffic import spans_in

    n = spans if spans is not None else sum(spans_in(m) for m in messages)
    floors, replays = [], []
    parts: dict[str, list[Timing]] = {"decode_extract": [], "detect": [], "records_hop": []}
    batches = extract_pass(messages) if breakdown else []
    floor_pass(messages)  # warm caches (pricing, identity, extractor) before timing
    replay_pass(messages[:2])
    for _ in range(max(rounds, 1)):
        floors.append(timed(n, lambda: floor_pass(messages)))
        replays.append(timed(n, lambda: replay_pass(messages)))
        if breakdown:
            parts["decode_extract"].append(
                timed(n, lambda: sum(len(b) for b in extract_pass(messages))))
            parts["detect"].append(timed(n, lambda: detect_pass(batches)))
            parts["records_hop"].append(timed(n, lambda: records_pass(batches)))
    return Comparison(best(floors), best(replays),
                      {name: best(ts) for name, ts in parts.items() if ts})
