"""``swapwatch calls``: print what swapwatch reads from your spans, one JSON object per call.

Reads OTLP JSON lines (an OpenTelemetry Collector file exporter's output, or ``otlp_json``
records) from a file or stdin (``-``). Lines that cannot be decoded are reported on stderr with
their line numbers and counted; every other line still comes through. The exit status is
non-zero only when nothing at all could be read.
"""

from __future__ import annotations

import argparse
import json
import sys

from swapwatch.detector.commands._input import SkippedLines, input_source
from swapwatch.detector.config import ConfigError, load_config
from swapwatch.detector.ingest.decode import iter_calls_from_file
from swapwatch.detector.ingest.errors import IngestStats

_MAX_ERRORS_SHOWN = 50  # per-line reports on stderr; the summary still counts all of them


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input", "-i", required=True, metavar="FILE",
        help="OTLP JSON-lines file (Collector file exporter format); - for stdin",
    )
    parser.add_argument("--config", "-c", metavar="YAML", help="swapwatch configuration file")
    parser.add_argument(
        "--stats", action="store_true", help="print ingest counters as JSON on stderr at the end"
    )


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config).ingest
    except (ConfigError, OSError) as err:
        print(f"swapwatch calls: {err}", file=sys.stderr)
        return 2
    stats = IngestStats()
    report = SkippedLines(args.input, _MAX_ERRORS_SHOWN)
    source = input_source(args.input)
    out = sys.stdout
    try:
        for call in iter_calls_from_file(source, config, on_error=report, stats=stats):
            out.write(json.dumps(call.to_dict(), separators=(",", ":")) + "\n")
    except BrokenPipeError:  # `swapwatch calls ... | head`
        return 0
    except OSError as err:
        print(f"swapwatch calls: cannot read {args.input}: {err}", file=sys.stderr)
        return 2
    out.flush()
    bad = stats.malformed_messages
    if bad:
        print(
            f"swapwatch calls: {bad} of {stats.messages} lines could not be read", file=sys.stderr
        )
    if args.stats:
        print(json.dumps(stats.to_dict()), file=sys.stderr)
    read = stats.messages - bad
    return 1 if stats.messages and read == 0 else 0
