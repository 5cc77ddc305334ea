"""Memory per series key, and replay throughput as the number of warm keys grows.

For each key count N: a fresh :class:`~swapwatch.detector.detection.engine.Detector` is fed
:func:`~swapwatch.detector.perf.traffic.warmup_calls` (every key past its learners' warm-up,
staged blocks at staggered fill levels), its memory is measured three ways, then the stream's
messages, spread over the same N keys, are replayed through it (decode + extract + pipeline)
between two floor passes on the same bytes:

- ``traced``: growth of Python's traced allocations (tracemalloc) over building and warming
  the detector, per key: the live objects it holds;
- ``rss``: growth of the process's resident memory, per key (includes allocator slack);
- ``pickled``: the whole detector pickled, per key, and how long that takes: what a
  partition's first checkpoint writes (later ones write only the keys touched since, see
  :mod:`swapwatch.detector.runtime.checkpoint`).

>>> from swapwatch.detector.perf.traffic import fleet_calls
>>> calls = fleet_calls(300, seed=1)
>>> point = key_point(calls, calls[:100], keys=20, per_key=8, trace=True)
>>> point.keys <= 20 and point.traced_per_key > 0 and point.pickled_per_key > 0
True
>>> point.replay.spans, point.replay.calls
(100, 100)
"""

from __future__ import annotations

import gc
import os
import pickle
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from swapwatch.detector.calls import LlmCall
from swapwatch.detector.detection.config import DetectionConfig
from swapwatch.detector.detection.engine import Detector
from swapwatch.detector.detection.keys import SeriesKey
from swapwatch.detector.perf.measure import (
    Timing,
    best,
    floor_pass,
    replay_pass,
    replay_pipeline,
    timed,
)
from swapwatch.detector.perf.traffic import (
    base_keys,
    otlp_messages,
    tenants_for,
    warmup_calls,
    with_tenants,
)
from swapwatch.detector.runtime.checkpoint import DirectoryStateStore, PartitionState

# Calls per key that warm every learner of the default configuration: a numeric block of 16
# calls graduates to the baseline after 16 recent blocks, and 16 graduated blocks (spanning
# two 30-minute baseline entries) make it warm: 32 blocks, plus two for the last entry.
DEFAULT_WARM_CALLS = 544


@dataclass(frozen=True)
class KeyPoint:
    """Memory and throughput of a detector holding ``keys`` warm series keys."""

    keys: int
    warm_keys: int
    warm_calls: int
    warm_cpu_s: float
    traced_per_key: float  # 0 when tracemalloc was off
    rss_per_key: float  # 0 where /proc is missing
    pickled_per_key: float
    pickle_s: float  # pickling the whole detector (a first, full checkpoint; wall clock)
    floor: Timing
    replay: Timing  # calls spread evenly over the keys: every call a cold key (worst case)
    replay_skewed: Timing | None = None  # Zipf-skewed over the keys, as fleets are
    checkpoint_full_s: float = 0.0  # CPU of a first checkpoint to a state store (every key)
    checkpoint_s: float = 0.0  # CPU of the next one, after the replays (the keys they touched)
    checkpoint_keys: int = 0  # keys the replays touched

    @property
    def ratio(self) -> float:
        base = self.floor.rate("cpu")
        return self.replay.rate("cpu") / base if base else 0.0

    @property
    def ratio_skewed(self) -> float:
        base = self.floor.rate("cpu")
        skewed = self.replay_skewed
        return skewed.rate("cpu") / base if base and skewed is not None else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "keys": self.keys, "warm_keys": self.warm_keys, "warm_calls": self.warm_calls,
            "warm_calls_per_s_cpu": round(self.warm_calls / self.warm_cpu_s)
            if self.warm_cpu_s else 0,
            "traced_bytes_per_key": round(self.traced_per_key),
            "rss_bytes_per_key": round(self.rss_per_key),
            "pickled_bytes_per_key": round(self.pickled_per_key),
            "checkpoint_pickle_s": round(self.pickle_s, 3),
            "floor": self.floor.to_dict(), "replay": self.replay.to_dict(),
            "ratio_cpu": round(self.ratio, 3),
            "replay_skewed": None if self.replay_skewed is None else self.replay_skewed.to_dict(),
            "ratio_skewed_cpu": round(self.ratio_skewed, 3),
            "checkpoint_full_cpu_s": round(self.checkpoint_full_s, 3),
            "checkpoint_cpu_s": round(self.checkpoint_s, 3),
            "checkpoint_keys": self.checkpoint_keys,
        }


class _ByteCounter:
    """A write-only file that only counts: pickles big states without holding them."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)


def pickled_size(obj: Any) -> int:
    counter = _ByteCounter()
    pickle.Pickler(counter, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return counter.size


def resident_bytes() -> int:
    """Resident set size of this process (0 where ``/proc`` is missing)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _warm_keys(detector: Detector) -> int:
    series = detector.keys()  # a method of the detector, not a dict's view
    return sum(1 for key in series if any(lr.warm for lr in detector.learners(key)))


def key_point(templates: list[LlmCall], stream: list[LlmCall], keys: int,
              per_key: int = DEFAULT_WARM_CALLS, trace: bool = True,
              batch_size: int = 200, config: DetectionConfig | None = None) -> KeyPoint:
    """Warm ``keys`` keys (of ``templates``' series × tenants), measure, replay ``stream``."""
    tenants = tenants_for(keys, len(base_keys(templates)))
    spread = with_tenants(stream, tenants)
    messages = otlp_messages(spread, batch_size=batch_size)
    before_ns = min(call.start_ns for call in stream)
    # the skewed replay follows the even one: the same calls, later and under new span ids
    # (else the dedup window would drop them all)
    shift_ns = max(call.end_ns for call in stream) - before_ns + 1
    later = [replace(call, start_ns=call.start_ns + shift_ns, end_ns=call.end_ns + shift_ns,
                     span_id=(call.span_id or "")[::-1] or None) for call in stream]
    skewed_calls = with_tenants(later, tenants, skewed=True)
    skewed = otlp_messages(skewed_calls, batch_size=batch_size)

    gc.collect()
    rss_before = resident_bytes()
    if trace:
        tracemalloc.start()
    traced_before = tracemalloc.get_traced_memory()[0] if trace else 0
    detector = Detector(config or DetectionConfig())
    cpu = time.process_time()
    warm_calls = 0
    for call in warmup_calls(templates, tenants, per_key, before_ns):
        detector.process(call)
        warm_calls += 1
    detector.flush(before_ns)  # releases the reorder buffer; staged blocks stay staged
    warm_cpu_s = time.process_time() - cpu
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] - traced_before if trace else 0
    if trace:
        tracemalloc.stop()
    rss = resident_bytes() - rss_before if rss_before else 0
    held = max(len(detector.keys()), 1)
    pickle_started = time.perf_counter()
    pickled = pickled_size(detector)
    pickle_s = time.perf_counter() - pickle_started
    warm = _warm_keys(detector)

    with tempfile.TemporaryDirectory() as root:
        store = DirectoryStateStore(root)
        state = PartitionState.fresh("calls", 0, detector)
        full_s = _cpu(lambda: store.save(state))  # a partition's first checkpoint: every key
        floor_pass(messages[:2])
        floors = [timed(len(spread), lambda: floor_pass(messages))]
        pipeline = replay_pipeline(detector)
        # steady state: no end-of-input flush (it would learn every key's block at once)
        replay = timed(len(spread), lambda: replay_pass(messages, pipeline, end_of_input=False))
        floors.append(timed(len(spread), lambda: floor_pass(messages)))
        replay_skewed = timed(len(spread),
                              lambda: replay_pass(skewed, pipeline, end_of_input=False))
        floors.append(timed(len(spread), lambda: floor_pass(skewed)))
        touched = len({SeriesKey.of(call) for call in spread + skewed_calls})
        incremental_s = _cpu(lambda: store.save(state))  # the keys the replays touched
    return KeyPoint(keys=held, warm_keys=warm, warm_calls=warm_calls, warm_cpu_s=warm_cpu_s,
                    traced_per_key=traced / held, rss_per_key=max(rss, 0) / held,
                    pickled_per_key=pickled / held, pickle_s=pickle_s, floor=best(floors),
                    replay=replay, replay_skewed=replay_skewed, checkpoint_full_s=full_s,
                    checkpoint_s=incremental_s, checkpoint_keys=touched)


def _cpu(work: Callable[[], object]) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


def key_scaling(templates: list[LlmCall], stream: list[LlmCall], key_counts: list[int],
                per_key: int = DEFAULT_WARM_CALLS, trace: bool = True,
                batch_size: int = 200) -> list[KeyPoint]:
    """:func:`key_point` for each count, smallest first (each with a fresh detector)."""
    points = []
    for keys in sorted(key_counts):
        points.append(key_point(templates, stream, keys, per_key, trace, batch_size))
        gc.collect()
    return points
