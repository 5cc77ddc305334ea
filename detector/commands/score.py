"""``swapwatch score``: score alerts against scenario ground truth (``docs/benchmark.md``).

``swapwatch score --truth DIR/truth.json --alerts ALERTS.jsonl`` prints recall, precision,
delay (requests and seconds, median and p90) and false alarms per key-month, per scenario.
Give ``--truth``/``--alerts`` several times (pairwise) to score many runs at once; ``--json``
prints the rows as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import ValidationError
from swapwatch.detector.simulator.scoring import (
    read_alerts,
    render_table,
    score_run,
    summarize_by_scenario,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--truth", "-t", action="append", required=True, metavar="TRUTH.json",
                        help="a scenario's truth.json (repeatable)")
    parser.add_argument("--alerts", "-a", action="append", required=True, metavar="ALERTS.jsonl",
                        help="alerts written by `swapwatch detect` for that scenario (repeatable)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    if len(args.truth) != len(args.alerts):
        print("swapwatch score: give one --alerts per --truth", file=sys.stderr)
        return 2
    scores = []
    for truth_path, alerts_path in zip(args.truth, args.alerts, strict=True):
        try:
            truth = json.loads(Path(truth_path).read_text())
            alerts = read_alerts(Path(alerts_path).read_text().splitlines())
        except (OSError, ValueError, ValidationError) as err:
            print(f"swapwatch score: {err}", file=sys.stderr)
            return 2
        scores.append(score_run(truth, alerts))
    rows = summarize_by_scenario(scores)
    if args.json:
        print(json.dumps([r.to_dict() for r in rows], indent=1))
    else:
        print(render_table(rows))
    return 0
