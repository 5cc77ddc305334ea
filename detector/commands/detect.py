"""``swapwatch detect``: replay OTLP JSON-lines spans through detection, write alerts as JSONL.

Deterministic: the same input (and configuration) gives the same alerts, because every
decision uses span timestamps (event time), never the wall clock. Undecodable lines are
reported on stderr with their line numbers and skipped.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from typing import IO

from swapwatch.detector.alerts.dispatcher import AlertsSetupError, open_dispatcher
from swapwatch.detector.commands._input import SkippedLines, input_source
from swapwatch.detector.config import ConfigError, load_config
from swapwatch.detector.detection.engine import Detector
from swapwatch.detector.ingest.decode import iter_calls_from_file
from swapwatch.detector.ingest.errors import IngestStats
from swapwatch.detector.runtime.command import add_kafka_arguments, run_kafka
from swapwatch.detector.runtime.pipeline import AlertLog, Pipeline

_MAX_ERRORS_SHOWN = 50
_BATCH = 256  # calls per pipeline step; alerts advance event time at once regardless


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", "-i", metavar="FILE",
                        help="OTLP JSON-lines file (Collector file exporter format); - for stdin")
    parser.add_argument("--alerts-out", "-o", default="-", metavar="ALERTS.jsonl",
                        help="where alerts go, one JSON object per line; - for stdout (default)")
    parser.add_argument("--config", "-c", metavar="YAML", help="swapwatch configuration file")
    parser.add_argument("--stats", action="store_true",
                        help="print ingest and detection counters as JSON on stderr at the end")
    add_kafka_arguments(parser)


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except (ConfigError, OSError) as err:
        print(f"swapwatch detect: {err}", file=sys.stderr)
        return 2
    if args.kafka:
        return run_kafka(args, config)
    if not args.input:
        print("swapwatch detect: give --input FILE or --kafka BOOTSTRAP", file=sys.stderr)
        return 2
    detector = Detector(config.detection)
    try:  # PagerDuty / Slack / webhook delivery, when alerts: configures a destination
        dispatcher = open_dispatcher(config.alerts)
    except AlertsSetupError as err:
        print(f"swapwatch detect: {err}", file=sys.stderr)
        return 2
    stats = IngestStats()
    report = SkippedLines(args.input, _MAX_ERRORS_SHOWN)
    source = input_source(args.input)
    out: IO[str] = sys.stdout if args.alerts_out == "-" else open(args.alerts_out, "w")  # noqa: SIM115
    log = AlertLog(out, forward=dispatcher)
    pipeline = Pipeline(detector, log)  # the same wiring the Kafka consumer and the demo use
    try:
        calls = iter_calls_from_file(source, config.ingest, on_error=report, stats=stats)
        while batch := list(itertools.islice(calls, _BATCH)):
            pipeline.process(batch)
        pipeline.finish()
        if dispatcher:  # end of input: notify what waits for a timer, deliver, then stop
            dispatcher.drain()
            dispatcher.close()
    except OSError as err:
        print(f"swapwatch detect: cannot read {args.input}: {err}", file=sys.stderr)
        return 2
    finally:
        if out is not sys.stdout:
            out.close()
        else:
            out.flush()
    alerts = log.written
    if args.stats:
        print(json.dumps({**stats.to_dict(), "calls": detector.calls_seen,
                          "late_calls": detector.late_calls, "keys": len(detector.keys()),
                          "alerts": alerts}), file=sys.stderr)
    read = stats.messages - stats.malformed_messages
    return 1 if stats.messages and read == 0 else 0
