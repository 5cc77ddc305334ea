"""Where a report's data comes from: replayed calls, a detector's saved state, alert files.

* :class:`ReportRecorder` watches calls as they pass (the demo feeds it in-process) and keeps
  what the charts need: the signals' time series and the daily model share.
* :func:`replay_file` replays an OTLP JSON-lines file through the detection engine (event
  time, so the same alerts and regimes as ``swapwatch detect``) while recording.
* :func:`read_state_dir` reads the per-partition state files the Kafka runtime checkpoints
  (``<topic>-<partition>.state``) for each key's regime ledger. Saved state holds learners and
  ledgers, not calls, so a report from state has regimes but no per-bucket time series.
* :func:`read_alerts` reads alerts written by ``swapwatch detect --alerts-out``.

>>> from swapwatch.detector.calls import LlmCall
>>> recorder = ReportRecorder()
>>> recorder.observe(LlmCall(start_ns=0, end_ns=10**9, surface="chat", response_model="m"))
>>> recorder.series.calls, recorder.daily.surfaces()
(1, ['chat'])
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError
from swapwatch.detector.alerts.alert import Alert
from swapwatch.detector.calls import LlmCall
from swapwatch.detector.config import SwapwatchConfig
from swapwatch.detector.detection.keys import SeriesKey
from swapwatch.detector.detection.ledger import Regime
from swapwatch.detector.report.config import ReportConfig
from swapwatch.detector.report.model import ReportData, build_report
from swapwatch.detector.report.model_share import DailyModelShare
from swapwatch.detector.report.series import SignalSeries

LedgerRows = list[tuple[SeriesKey, list[Regime], int]]


class ReportSourceError(RuntimeError):
    """A source cannot be read at all (missing, or nothing in it is readable)."""


class ReportRecorder:
    """What the report's charts need from the calls that pass; bounded (see ReportConfig)."""

    def __init__(self, config: ReportConfig | None = None) -> None:
        self.config = config or ReportConfig()
        self.series = SignalSeries(self.config)
        self.daily = DailyModelShare(self.config)

    def observe(self, call: LlmCall) -> None:
        self.series.observe(call)
        self.daily.observe(call)

    def report(self, title: str, source: str, detector: Any = None,
               alerts: list[Alert] | None = None, notes: list[str] | None = None) -> ReportData:
        """The report of what was recorded, with the regimes of ``detector`` (a
        :class:`~swapwatch.detector.detection.engine.Detector`) and ``alerts`` marked.

        In-process (the demo)::

            recorder.observe(call); alerts += detector.process(call)   # per call
            write_report(render_html(recorder.report("demo", "simulated", detector, alerts)),
                         "report.html")
        """
        return build_report(title=title, source=source, series=self.series,
                            ledgers=ledger_rows(detector) if detector is not None else [],
                            alerts=alerts or [], daily=self.daily, config=self.config,
                            notes=notes)


@dataclass
class Replay:
    """The result of replaying one file: recorded calls, alerts, each key's regimes."""

    recorder: ReportRecorder
    alerts: list[Alert]
    ledgers: LedgerRows
    messages: int = 0
    malformed: int = 0
    notes: list[str] = field(default_factory=list)

    def report(self, title: str, source: str) -> ReportData:
        return build_report(title=title, source=source, series=self.recorder.series,
                            ledgers=self.ledgers, alerts=self.alerts,
                            daily=self.recorder.daily, config=self.recorder.config,
                            notes=self.notes)


def ledger_rows(detector: Any) -> LedgerRows:
    """(key, regimes, dropped) of every key a :class:`Detector` (or look-alike) tracks."""
    rows: LedgerRows = []
    ledgers = getattr(detector, "ledgers", None)
    if not callable(ledgers):
        return rows
    for key, ledger in ledgers():
        rows.append((key, ledger.regimes(), getattr(ledger, "dropped_regimes", 0)))
    return rows


def replay_file(source: str | Path | IO[Any], config: SwapwatchConfig | None = None,
                report_config: ReportConfig | None = None,
                on_error: Callable[[int, str], None] | None = None) -> Replay:
    """Replay spans through detection and record them (``OSError`` if the file cannot be read)."""
    from swapwatch.detector.detection.engine import Detector
    from swapwatch.detector.ingest.decode import iter_calls_from_file
    from swapwatch.detector.ingest.errors import IngestStats

    config = config or SwapwatchConfig()
    detector = Detector(config.detection)
    recorder = ReportRecorder(report_config)
    stats = IngestStats()
    alerts: list[Alert] = []
    for call in iter_calls_from_file(source, config.ingest, on_error=on_error, stats=stats):
        recorder.observe(call)
        alerts.extend(detector.process(call))
    alerts.extend(detector.flush())
    notes = []
    if recorder.series.dropped_calls:
        notes.append(f"{recorder.series.dropped_calls} call(s) of keys beyond max_keys "
                     "are not charted")
    return Replay(recorder=recorder, alerts=alerts, ledgers=ledger_rows(detector),
                  messages=stats.messages, malformed=stats.malformed_messages, notes=notes)


def read_state_dir(path: str | Path) -> tuple[LedgerRows, list[str]]:
    """Every key's regimes from a runtime state directory, and notes on what was read."""
    from swapwatch.detector.runtime.checkpoint import DirectoryStateStore, StateCorrupt

    root = Path(path)
    if not root.is_dir():
        raise ReportSourceError(f"{root}: not a directory")
    files = sorted(root.glob("*.state"))
    if not files:
        raise ReportSourceError(f"{root}: no partition state files (<topic>-<partition>.state)")
    store = DirectoryStateStore(root)
    rows: LedgerRows = []
    notes: list[str] = []
    for file in files:
        topic, _, partition = file.stem.rpartition("-")
        if not topic or not partition.isdigit():
            notes.append(f"{file.name}: not named <topic>-<partition>.state, skipped")
            continue
        try:
            state = store.load(topic, int(partition))
        except StateCorrupt as err:
            notes.append(f"skipped: {err}")
            continue
        if state is None:
            continue
        rows.extend(ledger_rows(state.detector))
    if not rows and notes:
        raise ReportSourceError("; ".join(notes))
    notes.append(f"read {len(files)} partition state file(s): saved state keeps each key's "
                 "regimes, not its calls, so charts show regimes only")
    return rows, notes


def read_alerts(path: str | Path) -> tuple[list[Alert], int]:
    """Alerts from a JSONL file; returns them and how many lines were not alerts."""
    alerts: list[Alert] = []
    bad = 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                alerts.append(Alert.model_validate_json(line))
            except ValidationError:
                bad += 1
    return alerts, bad


def write_report(page: str, out: str | Path) -> Path:
    """Write the page atomically (a reader never sees half a report)."""
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, target)
    return target
