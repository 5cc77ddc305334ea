"""``swapwatch bench``: detector throughput against the decode floor, and memory per key.

    swapwatch bench [--spans 20000] [--kafka BOOTSTRAP] [--keys 100,1000] [--json out.json]

On one input (simulated fleet traffic as Kafka-sized OTLP protobuf messages) and in one run:
the floor (decode + walk every span's attributes), the in-process replay (decode + extract +
detection pipeline) with its breakdown, the Kafka path of ``swapwatch detect --kafka`` on a
backlog of the same messages (with ``--kafka``), memory per key and replay throughput as the
number of warm keys grows, and a profile of the replay. Prints spans/s and the ratios to the
floor; ``--json`` also writes every figure. No thresholds: it measures, it does not judge.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from swapwatch.detector.perf.keys import DEFAULT_WARM_CALLS
from swapwatch.detector.perf.run import BenchOptions, capacity_plan, run_bench


def _counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of counts: {text}") \
            from None
    if any(c < 1 for c in counts):
        raise argparse.ArgumentTypeError("key counts must be positive")
    return counts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = BenchOptions()
    parser.add_argument("--spans", type=int, default=defaults.spans,
                        help="LLM spans in the input (default %(default)s)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size,
                        help="spans per OTLP message, at most (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=defaults.rounds,
                        help="alternating floor/replay rounds; best of each (default %(default)s)")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--kafka", metavar="BOOTSTRAP",
                        help="also run the backlog through this broker and detect --kafka")
    parser.add_argument("--partitions", type=int, default=defaults.partitions,
                        help="partitions of the spans topic (default %(default)s)")
    parser.add_argument("--calls-partitions", type=int, default=defaults.calls_partitions,
                        help="partitions of the calls topic (default %(default)s)")
    parser.add_argument("--keys", type=_counts, default=defaults.keys, metavar="N,N,...",
                        help="key counts for memory per key and throughput vs keys "
                             "(default 100,1000; '' skips; 100000 takes ~half an hour)")
    parser.add_argument("--key-spans", type=int, default=defaults.key_spans,
                        help="spans replayed over the warm keys (default %(default)s)")
    parser.add_argument("--warm-calls", type=int, default=DEFAULT_WARM_CALLS,
                        help="calls per key to warm its learners (default %(default)s)")
    parser.add_argument("--trace-keys", type=int, default=defaults.trace_keys,
                        help="use tracemalloc (slow) for key counts up to this "
                             "(default %(default)s)")
    parser.add_argument("--no-profile", dest="profile", action="store_false",
                        help="skip the pyinstrument profile")
    parser.add_argument("--no-breakdown", dest="breakdown", action="store_false",
                        help="skip timing the replay's parts separately")
    parser.add_argument("--json", metavar="FILE", help="write every figure as JSON here")


def _rate(timing: dict[str, Any], clock: str = "cpu") -> str:
    return f"{timing[f'spans_per_s_{clock}']:>9,} spans/s"


def summary(result: dict[str, Any]) -> list[str]:
    """The human-readable figures of a :func:`run_bench` result."""
    m, inp = result["machine"], result["input"]
    lines = [
        f"machine: {m['nproc']} CPUs, {m['cpu']}, Python {m['python']}, load {m['load_1m']}, "
        f"{m['date']}",
        f"input: {inp['spans']} LLM spans in {inp['messages']} OTLP messages "
        f"({inp['spans_per_message']} spans, {inp['bytes_per_message']:,} B each), "
        f"{inp['keys']} keys",
        "                       cpu clock            wall clock",
        f"floor           {_rate(result['floor'])}   {_rate(result['floor'], 'wall')}",
        f"replay          {_rate(result['replay'])}   {_rate(result['replay'], 'wall')}"
        f"   ratio {result['replay']['ratio_cpu']:.2f} (cpu) {result['replay']['ratio_wall']:.2f}"
        " (wall)",
    ]
    for name, timing in result.get("breakdown", {}).items():
        lines.append(f"  {name:<14}{_rate(timing)}   {_rate(timing, 'wall')}")
    kafka = result.get("kafka")
    if kafka:
        lines += [
            f"kafka produce   {_rate(kafka['produce'])}   {_rate(kafka['produce'], 'wall')}",
            f"kafka consume   {_rate(kafka['consume_steady'])}   "
            f"{_rate(kafka['consume_steady'], 'wall')}   ratio {kafka['ratio_wall']:.2f} (wall; "
            f"{kafka['ratio_total_wall']:.2f} incl. group join), {kafka['calls']} calls"
            + (f", {kafka['restarts']} restart(s) after a stalled group join"
               if kafka["restarts"] else "")
            + ("" if kafka["complete"] else
               f" INCOMPLETE ({kafka['spans_decoded']} spans decoded, partitions owned "
               f"spans/calls {kafka['owned']})"),
        ]
    if result.get("keys"):
        lines.append("keys     warm  traced B/key  rss B/key  pickled B/key  pickle s   "
                     "replay (cpu)  ratio  vs fewest   skewed: ratio  vs fewest   "
                     "checkpoint s: first  next (keys touched)")
        for p in result["keys"]:
            traced = f"{p['traced_bytes_per_key']:,}" if p["traced_bytes_per_key"] else "-"
            lines.append(
                f"{p['keys']:<8}{p['warm_keys']:>5}  {traced:>12}  {p['rss_bytes_per_key']:>9,}"
                f"  {p['pickled_bytes_per_key']:>13,}  {p['checkpoint_pickle_s']:>8.2f}  "
                f"{_rate(p['replay'])}  "
                f"{p['ratio_cpu']:.2f}   {p['vs_fewest_keys']:.2f}"
                f"            {p['ratio_skewed_cpu']:.2f}   {p['skewed_vs_fewest_keys']:.2f}"
                f"{p['checkpoint_full_cpu_s']:>21.2f}  {p['checkpoint_cpu_s']:>5.2f} "
                f"({p['checkpoint_keys']:,})")
    rate = result["replay"]["spans_per_s_cpu"]
    plan = capacity_plan(1e9, rate)
    lines.append(f"1e9 calls/day at {rate:,} calls/s per process (cpu), peak 3x mean, 50% "
                 f"utilisation: {plan['replicas']} detector processes")
    profile = result.get("profile")
    if profile:
        lines += ["profile of one replay pass, top functions by cumulative time:",
                  profile["flat"]]
    elif "profile" in result:
        lines.append("profile: pyinstrument is not installed (pip install pyinstrument)")
    lines.append(f"elapsed: {result['elapsed_s']} s")
    return lines


def run(args: argparse.Namespace) -> int:
    if args.spans < 1 or args.batch_size < 1 or args.rounds < 1:
        print("swapwatch bench: --spans, --batch-size and --rounds must be positive",
              file=sys.stderr)
        return 2
    options = BenchOptions(
        spans=args.spans, batch_size=args.batch_size, rounds=args.rounds, seed=args.seed,
        kafka=args.kafka, partitions=args.partitions, calls_partitions=args.calls_partitions,
        keys=tuple(args.keys), key_spans=min(args.key_spans, args.spans),
        warm_calls=args.warm_calls, trace_keys=args.trace_keys, profile=args.profile,
        breakdown=args.breakdown)
    result = run_bench(options, log=lambda text: print(text, file=sys.stderr, flush=True))
    print("\n".join(summary(result)))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=1)
    return 0
