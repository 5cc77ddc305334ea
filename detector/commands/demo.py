"""``swapwatch demo``: watch swapwatch catch a silent model swap, in about two minutes.

    swapwatch demo                                # no Kafka, nothing beyond 127.0.0.1
    swapwatch demo --scenario incident --duration 60 --speed 60
    swapwatch demo --kafka localhost:9092         # the same, through a real broker

Exit status: 0 when every scripted change was caught or reported and nothing else was called a
swap, 1 when the verdict failed, 2 when the demo could not run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from swapwatch.detector.demo.config import DemoConfig
from swapwatch.detector.demo.scenario import DEFAULT_SCENARIO, SCENARIOS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = DemoConfig()
    parser.add_argument("--scenario", "-s", default=DEFAULT_SCENARIO, choices=sorted(SCENARIOS),
                        help=f"what happens (default {DEFAULT_SCENARIO})")
    parser.add_argument("--duration", type=float, default=defaults.duration_s, metavar="SECONDS",
                        help=f"real seconds of traffic (default {defaults.duration_s:g})")
    parser.add_argument("--speed", type=float, default=defaults.speed,
                        help=f"simulated seconds per real second (default {defaults.speed:g})")
    parser.add_argument("--calls", type=int, default=defaults.calls,
                        help=f"LLM calls in the whole run (default {defaults.calls})")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="traffic seed")
    parser.add_argument("--out", type=Path, default=defaults.out_dir, metavar="DIR",
                        help=f"alerts, summary and report go here (default {defaults.out_dir})")
    parser.add_argument("--kafka", metavar="BOOTSTRAP",
                        help="send spans through this Kafka broker instead of in-process")
    view = parser.add_mutually_exclusive_group()
    view.add_argument("--live", dest="live", action="store_true", default=None,
                      help="live terminal view even when not a terminal")
    view.add_argument("--plain", dest="live", action="store_false",
                      help="plain progress lines instead of the live view")


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from swapwatch.detector.demo.runner import DemoError, run_demo

    try:
        config = DemoConfig(scenario=args.scenario, duration_s=args.duration, speed=args.speed,
                            calls=args.calls, seed=args.seed, out_dir=args.out,
                            kafka=args.kafka, live=args.live)
    except ValidationError as err:
        print(f"swapwatch demo: {err}", file=sys.stderr)
        return 2
    try:
        result = run_demo(config)
    except DemoError as err:
        print(f"swapwatch demo: {err}", file=sys.stderr)
        return 2
    print()
    for line in result.verdict.lines():
        print(line)
    for note in result.notes:
        print(f"note: {note}")
    print(f"\n{result.detected} calls seen by detection in {result.wall_s:.0f} s")
    print(f"alerts:  {result.alerts_path}")
    print(f"summary: {result.summary_path}")
    if result.report_path is not None:
        print(f"report:  {result.report_path}  (open it in a browser)")
    return 0 if result.verdict.passed else 1
