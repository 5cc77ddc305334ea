"""Measure detection's cost per call and memory per series key (prints numbers, no asserts).

``python -m swapwatch.detector.detection.bench [--calls N] [--keys K]`` generates a benchmark
scenario in process (the simulator's calls, no spans), then reports, in one run so that a
noisy machine affects both alike:

* µs per call of :meth:`Detector.process` and of a floor loop that only touches every field
  of each call (the ratio is what to compare across machines);
* bytes per key: the pickled size of one warm key's detection state, and the growth of the
  process's traced memory when ``K`` keys are warmed up (tracemalloc).
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import replace

from swapwatch.detector.calls import LlmCall
from swapwatch.detector.detection.config import DetectionConfig
from swapwatch.detector.detection.engine import Detector


def _calls(n: int) -> list[LlmCall]:
    from swapwatch.detector.simulator.generate import generate
    from swapwatch.detector.simulator.suite import build_scenario

    calls: list[LlmCall] = []
    generate(build_scenario("silent-downgrade", variant="gpt-4-turbo>gpt-3.5-turbo", seed=1,
                            days=3), calls.append)
    return calls[:n]


def _floor(calls: list[LlmCall]) -> float:
    fields = LlmCall.__slots__  # type: ignore[attr-defined]
    start = time.process_time()
    for call in calls:
        for name in fields:
            getattr(call, name)
    return (time.process_time() - start) / len(calls)


def per_call(calls: list[LlmCall], config: DetectionConfig) -> float:
    detector = Detector(config)
    start = time.process_time()
    for call in calls:
        detector.process(call)
    detector.flush()
    return (time.process_time() - start) / len(calls)


def memory_per_key(calls: list[LlmCall], keys: int, config: DetectionConfig) -> tuple[int, int]:
    """(pickled bytes of one warm key, traced bytes per key for ``keys`` warm keys)."""
    one = [c for c in calls if c.surface == calls[0].surface][:2000]
    detector = Detector(config)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for k in range(keys):
        for call in one:
            detector.process(replace(call, tenant=f"tenant-{k}"))
    detector.flush()
    traced = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    state = next(state for _, state in detector._table.items())
    return len(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)), traced // keys


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m swapwatch.detector.detection.bench")
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--keys", type=int, default=20)
    args = parser.parse_args(argv)
    config = DetectionConfig()
    calls = _calls(args.calls)
    floor = _floor(calls)
    cost = per_call(calls, config)
    pickled, traced = memory_per_key(calls, args.keys, config)
    print(f"calls: {len(calls)}, keys in stream: {len({c.surface for c in calls})}")
    print(f"detector: {cost * 1e6:.1f} µs/call ({1 / cost:,.0f} calls/s per core)")
    print(f"floor (touch every field): {floor * 1e6:.2f} µs/call; ratio {cost / floor:.0f}x")
    print(f"memory per warm key: {pickled:,} B pickled, {traced:,} B traced "
          f"(incl. the ledger and divergence state; {args.keys} keys)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
