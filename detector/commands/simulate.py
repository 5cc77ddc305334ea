"""``swapwatch simulate``: write a benchmark scenario's spans and ground truth.

``swapwatch simulate --scenario silent-downgrade --seed 1 --out DIR`` writes
``DIR/spans.jsonl`` (OTLP JSON lines, as a Collector's file exporter writes them) and
``DIR/truth.json`` (what changed when, see ``docs/benchmark.md``). Spans are generated
directly from the model profiles, without HTTP; event times start at 2026-03-02T00:00:00Z.
``--list`` prints the scenarios and their variants.
"""

from __future__ import annotations

import argparse
import sys

from swapwatch.detector.simulator.run import simulate_to_dir
from swapwatch.detector.simulator.spans import DIALECTS
from swapwatch.detector.simulator.suite import SUITE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--list", action="store_true", help="list scenarios and variants")
    parser.add_argument("--scenario", "-s", metavar="NAME", help="scenario to generate")
    parser.add_argument("--variant", metavar="VARIANT",
                        help="magnitude/variant of the scenario (default: its first)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", "-o", metavar="DIR", help="output directory")
    parser.add_argument("--days", type=float, metavar="DAYS",
                        help="length in days (default: the scenario's own, 3 or 30)")
    parser.add_argument("--rate-scale", type=float, default=1.0, metavar="X",
                        help="multiply every key's traffic by X (default 1)")
    parser.add_argument("--dialect", choices=DIALECTS, default="otel",
                        help="span attribute dialect (default: current OTel GenAI semconv)")


def list_scenarios() -> str:
    lines = []
    for spec in SUITE.values():
        lines.append(f"{spec.name:<20} {spec.days:>4g} d  must: {spec.must:<22} "
                     f"variants: {', '.join(spec.variants)}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.list:
        print(list_scenarios())
        return 0
    if not args.scenario or not args.out:
        print("swapwatch simulate: give --scenario NAME and --out DIR (or --list)",
              file=sys.stderr)
        return 2
    try:
        result = simulate_to_dir(args.scenario, seed=args.seed, out_dir=args.out,
                                 variant=args.variant, days=args.days, dialect=args.dialect,
                                 rate_scale=args.rate_scale)
    except (KeyError, ValueError) as err:
        print(f"swapwatch simulate: {err.args[0] if err.args else err}", file=sys.stderr)
        return 2
    print(f"wrote {result.spans} spans in {result.lines} lines to {result.spans_path} "
          f"and {result.truth_path} ({result.seconds:.1f} s wall, {result.cpu_seconds:.1f} s CPU, "
          f"{result.spans_per_s:,.0f} spans/s)",
          file=sys.stderr)
    return 0
