"""``swapwatch benchmark``: every scenario × variant × seed through ``swapwatch detect``, scored.

For each run it writes the scenario (``swapwatch simulate``), replays the spans through
``swapwatch detect --input SPANS --alerts-out ALERTS`` in this process, and scores the alerts
against the ground truth (``swapwatch score``). ``--quick`` runs each scenario's first variant
with one seed and at most two days, so it fits in a test. ``--results-md FILE`` writes the
table with the date and the command (``BENCHMARKS.md``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from swapwatch.detector.simulator.run import simulate_to_dir
from swapwatch.detector.simulator.scoring import (
    RunScore,
    read_alerts,
    render_table,
    score_run,
    summarize_by_scenario,
)
from swapwatch.detector.simulator.spans import DIALECTS
from swapwatch.detector.simulator.suite import SUITE

QUICK_DAYS = 2.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenarios", metavar="A,B",
                        help="comma-separated scenario names (default: all)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per variant (default 3)")
    parser.add_argument("--first-variant", action="store_true",
                        help="only each scenario's first variant")
    parser.add_argument("--days", type=float, help="override every scenario's length")
    parser.add_argument("--rate-scale", type=float, default=1.0, metavar="X",
                        help="multiply every key's traffic by X (default 1)")
    parser.add_argument("--quick", action="store_true",
                        help=f"first variant, one seed, at most {QUICK_DAYS:g} days")
    parser.add_argument("--dialect", choices=DIALECTS, default="otel")
    parser.add_argument("--config", "-c", metavar="YAML",
                        help="swapwatch configuration passed to detect")
    parser.add_argument("--work", metavar="DIR",
                        help="keep scenarios and alerts here (default: a temporary folder)")
    parser.add_argument("--json", action="store_true", help="print JSON rows, not a table")
    parser.add_argument("--results-md", metavar="FILE",
                        help="also write the table, date and command as Markdown")


def _plan(args: argparse.Namespace) -> list[tuple[str, str, int, float | None]]:
    names = args.scenarios.split(",") if args.scenarios else list(SUITE)
    unknown = [n for n in names if n not in SUITE]
    if unknown:
        raise KeyError(f"unknown scenarios: {', '.join(unknown)}; known: {', '.join(SUITE)}")
    plan = []
    for name in names:
        spec = SUITE[name]
        variants = spec.variants[:1] if args.quick or args.first_variant else spec.variants
        seeds = 1 if args.quick else args.seeds
        days = args.days
        if args.quick:
            days = min(spec.days, QUICK_DAYS if days is None else days)
        for variant in variants:
            for seed in range(seeds):
                plan.append((name, variant, seed, days))
    return plan


def run_one(name: str, variant: str, seed: int, days: float | None, work: Path,
            dialect: str = "otel", config: str | None = None, rate_scale: float = 1.0
            ) -> RunScore:
    """Simulate one scenario run, replay it through ``swapwatch detect``, score the alerts."""
    from swapwatch.detector import cli  # the registry, imported late: cli imports commands

    folder = work / name / variant.replace(">", "-to-").replace("%", "pct") / f"seed{seed}"
    result = simulate_to_dir(name, seed=seed, out_dir=folder, variant=variant, days=days,
                             dialect=dialect, rate_scale=rate_scale)
    alerts_path = folder / "alerts.jsonl"
    argv = ["detect", "--input", str(result.spans_path), "--alerts-out", str(alerts_path)]
    if config:
        argv += ["--config", config]
    status = cli.main(argv)
    if status != 0:
        raise RuntimeError(f"swapwatch detect failed ({status}) on {result.spans_path}")
    truth = json.loads(result.truth_path.read_text())
    return score_run(truth, read_alerts(alerts_path.read_text().splitlines()))


def results_markdown(table: str, command: str, seconds: float, runs: int) -> str:
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    return (
        "# Swap benchmark results\n\n"
        f"Date: {date}. Command: `{command}` ({runs} runs, {seconds:.0f} s).\n\n"
        "Scenarios and scoring rules: `docs/benchmark.md`; scenario declarations: "
        "`detector/simulator/suite.py`. `recall(goal)` is recall on the changes that moved "
        "three or more signals by 20% or more in the generated spans.\n\n"
        f"{table}\n"
    )


def run(args: argparse.Namespace) -> int:
    try:
        plan = _plan(args)
    except KeyError as err:
        print(f"swapwatch benchmark: {err.args[0]}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    scores: list[RunScore] = []
    with tempfile.TemporaryDirectory(prefix="swapwatch-bench-") as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        for name, variant, seed, days in plan:
            print(f"benchmark: {name} {variant} seed {seed}", file=sys.stderr)
            scores.append(run_one(name, variant, seed, days, work, args.dialect, args.config,
                                  args.rate_scale))
    rows = summarize_by_scenario(scores)
    table = render_table(rows)
    if args.json:
        print(json.dumps([r.to_dict() for r in rows], indent=1))
    else:
        print(table)
    if args.results_md:
        Path(args.results_md).write_text(results_markdown(
            table, command_line(args), time.perf_counter() - started, len(scores)))
    return 0


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run (without where its results were written)."""
    parts = ["swapwatch", "benchmark"]
    if args.scenarios:
        parts += ["--scenarios", args.scenarios]
    if args.quick:
        parts.append("--quick")
    elif args.seeds != 3:
        parts += ["--seeds", str(args.seeds)]
    if args.first_variant:
        parts.append("--first-variant")
    if args.days is not None:
        parts += ["--days", f"{args.days:g}"]
    if args.rate_scale != 1.0:
        parts += ["--rate-scale", f"{args.rate_scale:g}"]
    if args.dialect != "otel":
        parts += ["--dialect", args.dialect]
    if args.config:
        parts += ["--config", args.config]
    return " ".join(shlex.quote(p) for p in parts)
