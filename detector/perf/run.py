"""One benchmark run, wired in one place: input → floor/replay → Kafka → keys → profile.

:func:`run_bench` returns a JSON-ready dict of every figure (and prints progress to ``log``);
:func:`capacity_plan` turns a measured per-process rate into a fleet's partition and replica
counts (pure, table-tested).

>>> plan = capacity_plan(1e9, per_process_calls_per_s=5000, peak_to_mean=3.0, utilisation=0.5)
>>> plan["mean_calls_per_s"], plan["peak_calls_per_s"], plan["replicas"]
(11574, 34722, 14)
"""

from __future__ import annotations

import math
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from swapwatch.detector.perf.keys import DEFAULT_WARM_CALLS, key_scaling
from swapwatch.detector.perf.measure import compare
from swapwatch.detector.perf.traffic import SCENARIO, fleet_calls, otlp_messages


@dataclass(frozen=True)
class BenchOptions:
    """What to run, with the defaults of a short run (a couple of minutes on two cores)."""

    spans: int = 20_000
    batch_size: int = 200  # spans per message (the SDK exports up to 512)
    rounds: int = 3
    seed: int = 1
    kafka: str | None = None  # bootstrap servers; None skips the Kafka run
    partitions: int = 3
    calls_partitions: int = 4
    kafka_timeout_s: float = 300.0
    keys: tuple[int, ...] = (100, 1000)
    key_spans: int = 10_000  # the stream replayed at each key count
    warm_calls: int = DEFAULT_WARM_CALLS
    trace_keys: int = 100  # tracemalloc (slow: ~4x) only for key counts up to this
    profile: bool = True
    breakdown: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def machine() -> dict[str, Any]:
    """nproc, CPU model, Python, date: what BENCHMARKS.md records with the figures."""
    import os

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = -1.0
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": sys.version.split()[0],
            "platform": platform.platform(), "load_1m": round(load, 2),
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}


def capacity_plan(calls_per_day: float, per_process_calls_per_s: float,
                  peak_to_mean: float = 3.0, utilisation: float = 0.5) -> dict[str, int]:
    """Detector processes (one core each) for a fleet: the peak rate over a process's rate
    at ``utilisation`` (headroom to catch up after an outage); a partition per process."""
    mean = calls_per_day / 86_400
    peak = mean * peak_to_mean
    replicas = math.ceil(peak / max(per_process_calls_per_s * utilisation, 1e-9))
    return {"mean_calls_per_s": round(mean), "peak_calls_per_s": round(peak),
            "replicas": replicas}


def run_bench(options: BenchOptions, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Every figure of one run (see :mod:`swapwatch.detector.perf`)."""
    started = time.perf_counter()
    result: dict[str, Any] = {"machine": machine(), "options": asdict(options)}
    log(f"generating {options.spans} spans ({SCENARIO}, seed {options.seed}) ...")
    calls = fleet_calls(options.spans, seed=options.seed)
    messages = otlp_messages(calls, batch_size=options.batch_size)
    result["input"] = {
        "spans": len(calls), "messages": len(messages),
        "spans_per_message": round(len(calls) / max(len(messages), 1), 1),
        "bytes_per_message": round(sum(map(len, messages)) / max(len(messages), 1)),
        "keys": len({(c.service, c.surface, c.provider, c.request_model, c.environment,
                      c.tenant) for c in calls}),
    }

    log(f"floor and replay, {options.rounds} alternating rounds ...")
    comparison = compare(messages, spans=len(calls), rounds=options.rounds,
                         breakdown=options.breakdown)
    result["floor"] = comparison.floor.to_dict()
    result["replay"] = {**comparison.replay.to_dict(),
                        "ratio_cpu": round(comparison.ratio("cpu"), 3),
                        "ratio_wall": round(comparison.ratio("wall"), 3)}
    result["breakdown"] = {name: t.to_dict() for name, t in comparison.parts.items()}

    if options.kafka:
        from swapwatch.detector.perf.kafka import kafka_end_to_end

        log(f"Kafka: producing {len(messages)} messages to {options.kafka}, then consuming "
            "with the detect runtime ...")
        run = kafka_end_to_end(options.kafka, messages, spans=len(calls), calls=len(calls),
                               partitions=options.partitions,
                               calls_partitions=options.calls_partitions,
                               timeout_s=options.kafka_timeout_s)
        steady = run.consume_steady
        result["kafka"] = {
            **run.to_dict(),
            "ratio_wall": round(steady.rate("wall") / max(comparison.floor.rate("wall"), 1e-9),
                                3),
            "ratio_total_wall": round(run.consume_total.rate("wall")
                                      / max(comparison.floor.rate("wall"), 1e-9), 3),
        }

    if options.keys:
        stream = calls[:options.key_spans]
        points = []
        for keys in sorted(options.keys):
            log(f"keys: warming {keys} keys x {options.warm_calls} calls, then replaying "
                f"{len(stream)} spans over them ...")
            points.extend(key_scaling(calls, stream, [keys], options.warm_calls,
                                      trace=keys <= options.trace_keys,
                                      batch_size=options.batch_size))
        first = points[0].ratio if points else 0.0
        result["keys"] = [{**p.to_dict(), "vs_fewest_keys": round(p.ratio / first, 3)
                           if first else 0.0,
                           "skewed_vs_fewest_keys": round(p.ratio_skewed / first, 3)
                           if first else 0.0} for p in points]

    if options.profile:
        from swapwatch.detector.perf.profile import profile_replay

        log("profiling one replay pass (pyinstrument) ...")
        profile = profile_replay(messages)
        result["profile"] = None if profile is None else {"flat": profile.flat,
                                                          "tree": profile.tree}
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    return result
