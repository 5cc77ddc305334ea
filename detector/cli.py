"""The ``swapwatch`` command line.

Each subcommand lives in its own module, which provides ``add_arguments(parser)`` and
``run(args) -> int``. Modules are imported only when their subcommand runs, so
``swapwatch --help`` stays fast and a light install does not need the detector's extras.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

# name -> (module, one-line help). Add a line here when a subcommand becomes real.
COMMANDS: dict[str, tuple[str, str]] = {
    "calls": (
        "swapwatch.detector.commands.calls",
        "print the LLM calls read from OTLP JSON spans",
    ),
    "detect": (
        "swapwatch.detector.commands.detect",
        "replay OTLP JSON spans through detection, write alerts",
    ),
    "collect": (
        "swapwatch.collector.command",
        "receive OTLP, produce LLM spans to Kafka",
    ),
    "simulate": (
        "swapwatch.detector.commands.simulate",
        "write a benchmark scenario's spans and ground truth",
    ),
    "score": (
        "swapwatch.detector.commands.score",
        "score alerts against scenario ground truth",
    ),
    "benchmark": (
        "swapwatch.detector.commands.benchmark",
        "run the swap benchmark suite through detect and score it",
    ),
    "silence": (
        "swapwatch.detector.commands.silence",
        "add, list or expire alert silences",
    ),
    "ack": (
        "swapwatch.detector.commands.ack",
        "accept a key's new regime; resolves its swap",
    ),
    "regimes": (
        "swapwatch.detector.commands.regimes",
        "show each key's regimes: what served when",
    ),
    "report": (
        "swapwatch.detector.commands.report",
        "write the HTML report; --model-share: daily served-model share",
    ),
    "demo": (
        "swapwatch.detector.commands.demo",
        "run the whole chain locally: a silent swap and an incident, live",
    ),
    "bench": (
        "swapwatch.detector.commands.bench",
        "measure detector throughput against the decode floor, and memory per key",
    ),
}


def _version() -> str:
    try:
        return version("swapwatch")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="swapwatch",
        description="Catch silent model swaps in LLM traffic from OpenTelemetry spans.",
    )
    parser.add_argument("--version", action="version", version=f"swapwatch {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not args_in or args_in[0] not in COMMANDS:
        parser.parse_args(args_in)  # handles --help, --version and unknown commands
        parser.print_help()
        return 2
    name, rest = args_in[0], args_in[1:]
    module_name, help_text = COMMANDS[name]
    module = importlib.import_module(module_name)
    sub = argparse.ArgumentParser(prog=f"swapwatch {name}", description=help_text)
    module.add_arguments(sub)
    args = sub.parse_args(rest)
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
