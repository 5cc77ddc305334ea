"""``swapwatch report``: a self-contained HTML report, and the daily model-share report.

    swapwatch report --input spans.jsonl --out report.html
    swapwatch report --input spans.jsonl --model-share          # text, per surface and day
    swapwatch report --state /var/lib/swapwatch/state --out report.html

``--input`` replays OTLP JSON-lines spans through detection (event time: the alerts and
regimes of ``swapwatch detect``) and charts every signal of every key. ``--state`` reads the
per-partition state the Kafka runtime checkpoints: each key's regimes, not its calls, so that
report has the regime ledger and per-regime charts but no per-bucket time series and no daily
model share. ``--alerts FILE`` (JSONL from ``swapwatch detect``) marks those alerts instead of
the replay's, e.g. the alerts a live detector sent. The HTML opens offline (the charting
library is embedded); ``report.html#key-<slug>`` jumps to one key.
"""

from __future__ import annotations

import argparse
import sys

from swapwatch.detector.commands._input import SkippedLines, input_source
from swapwatch.detector.config import ConfigError, load_config
from swapwatch.detector.report.config import ReportConfig

_MAX_ERRORS_SHOWN = 50


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", "-i", metavar="FILE",
                        help="OTLP JSON-lines spans (Collector file exporter format); - for stdin")
    source.add_argument("--state", metavar="DIR",
                        help="the Kafka runtime's state directory (<topic>-<partition>.state)")
    parser.add_argument("--out", "-o", metavar="REPORT.html",
                        help="write the HTML report here (default report.html unless "
                             "--model-share is given)")
    parser.add_argument("--model-share", action="store_true",
                        help="print the daily served-model share per surface as text")
    parser.add_argument("--alerts", metavar="ALERTS.jsonl",
                        help="mark these alerts (from swapwatch detect) instead of the replay's")
    parser.add_argument("--title", default="swapwatch report", help="the report's title")
    parser.add_argument("--max-points", type=int, metavar="N",
                        help=f"time buckets per chart (default {ReportConfig().max_points})")
    parser.add_argument("--config", "-c", metavar="YAML", help="swapwatch configuration file")


def _fail(message: str, code: int = 2) -> int:
    print(f"swapwatch report: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from swapwatch.detector.report.html import render_html
    from swapwatch.detector.report.model import ReportData, build_report
    from swapwatch.detector.report.model_share import format_model_share
    from swapwatch.detector.report.sources import (
        ReportSourceError,
        read_alerts,
        read_state_dir,
        replay_file,
        write_report,
    )

    try:
        config = load_config(args.config)
        report_config = ReportConfig(**({} if args.max_points is None
                                        else {"max_points": args.max_points}))
    except (ConfigError, OSError, ValidationError) as err:
        return _fail(str(err))
    out = args.out or (None if args.model_share else "report.html")
    if args.state and args.model_share:
        return _fail("--model-share needs --input: saved state keeps no per-day counts")
    file_alerts = None
    if args.alerts:
        try:
            file_alerts, bad = read_alerts(args.alerts)
        except OSError as err:
            return _fail(f"cannot read {args.alerts}: {err}")
        if bad:
            print(f"swapwatch report: {args.alerts}: {bad} line(s) are not alerts, skipped",
                  file=sys.stderr)
    data: ReportData
    if args.input:
        report = SkippedLines(args.input, _MAX_ERRORS_SHOWN)
        source = input_source(args.input)
        try:
            replay = replay_file(source, config, report_config, on_error=report)
        except OSError as err:
            return _fail(f"cannot read {args.input}: {err}")
        if replay.messages and replay.messages == replay.malformed:
            return _fail(f"nothing readable in {args.input}", 1)
        if file_alerts is not None:
            replay.alerts = file_alerts
        if args.model_share:
            print(format_model_share(replay.recorder.daily))
        data = replay.report(args.title, "stdin" if args.input == "-" else args.input)
    else:
        try:
            ledgers, notes = read_state_dir(args.state)
        except ReportSourceError as err:
            return _fail(str(err), 1)
        data = build_report(title=args.title, source=args.state, series=None, ledgers=ledgers,
                            alerts=file_alerts or [], daily=None, config=report_config,
                            notes=notes)
    if out is None:
        return 0
    try:
        path = write_report(render_html(data), out)
    except OSError as err:
        return _fail(f"cannot write {out}: {err}")
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB: {len(data.keys)} keys, "
          f"{len(data.alerts)} alerts)", file=sys.stderr)
    return 0
