"""``ReportData``: everything one report shows, assembled from its sources (pure).

Three sources feed a report, each optional: the time series of every signal
(:class:`~swapwatch.detector.report.series.SignalSeries`, only when calls are replayed), each
key's regime ledger (replayed, or read from a detector's saved state), and alerts. This module
puts them together per series key; :mod:`~swapwatch.detector.report.figures` turns the result
into charts and :mod:`~swapwatch.detector.report.html` into a page.

An alert belongs to every key it names: a swap or identity alert names one key, a provider
incident names only the provider (so it marks every key of that provider), a divergence names
the fields its two keys share.

>>> from datetime import datetime, timezone
>>> from swapwatch.detector.alerts.alert import Alert, AlertKey
>>> key = SeriesKey("api", "chat", "openai", "gpt-4o", "prod")
>>> t = datetime(2026, 3, 2, 14, tzinfo=timezone.utc)
>>> incident = Alert(kind="incident", key=AlertKey(provider="openai"), detected_at=t,
...                  changed_at=t, summary="openai slowed down")
>>> alert_matches(incident, key), alert_matches(incident, key._replace(provider="anthropic"))
(True, False)
>>> key_anchor(key)
'key-api-chat-openai-gpt-4o-prod'
>>> key_anchor(incident.key)  # an alert about a whole provider has no section of its own
'key-openai'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from swapwatch.detector.alerts.alert import Alert, AlertKey
from swapwatch.detector.detection.keys import SeriesKey
from swapwatch.detector.detection.ledger import Regime
from swapwatch.detector.report.config import ReportConfig
from swapwatch.detector.report.model_share import DailyModelShare
from swapwatch.detector.report.series import KeySeries, SignalSeries

_NOT_ANCHOR = re.compile(r"[^A-Za-z0-9_.-]+")


def key_anchor(key: SeriesKey | AlertKey) -> str:
    """The HTML id of a key's section: ``report.html#<anchor>`` links an alert to its charts
    (an alert's ``key`` gives the same anchor as the series key it is about)."""
    return "key-" + _NOT_ANCHOR.sub("-", key.slug()).strip("-")


def alert_matches(alert: Alert, key: SeriesKey) -> bool:
    """True when every field the alert's key names equals the series key's."""
    return all(getattr(key, name) == value for name, value in alert.key.labels().items())


@dataclass(frozen=True)
class KeyReport:
    """One series key's part of the report."""

    key: SeriesKey
    series: KeySeries | None  # None when only saved state was read (no calls replayed)
    regimes: list[Regime]
    alerts: list[Alert]
    dropped_regimes: int = 0

    @property
    def anchor(self) -> str:
        return key_anchor(self.key)


@dataclass(frozen=True)
class ReportData:
    """The whole report, source-independent; rendering reads only this."""

    title: str
    source: str  # what was read, in words (a file name, a state directory)
    keys: list[KeyReport]
    surfaces: list[KeySeries]  # served-model share per surface (empty without replay)
    daily: DailyModelShare | None
    alerts: list[Alert]
    first_ns: int | None = None
    last_ns: int | None = None
    calls: int = 0
    notes: list[str] = field(default_factory=list)


def build_report(
    *,
    title: str,
    source: str,
    series: SignalSeries | None,
    ledgers: list[tuple[SeriesKey, list[Regime], int]],
    alerts: list[Alert],
    daily: DailyModelShare | None,
    config: ReportConfig | None = None,
    notes: list[str] | None = None,
) -> ReportData:
    """Put the sources together per key. ``ledgers``: (key, regimes, dropped regimes)."""
    config = config or ReportConfig()
    kept = sorted(alerts, key=lambda a: a.detected_at)[-config.max_alerts:] \
        if config.max_alerts else []
    regimes = {key: (found, dropped) for key, found, dropped in ledgers}
    charted = set(series.keys()) if series is not None else set()
    keys = set(regimes) | charted
    chosen = sorted(keys, key=SeriesKey.slug)[:config.max_keys]
    notes = list(notes or [])
    if len(keys) > len(chosen):
        notes.append(f"{len(keys) - len(chosen)} more key(s) not shown (max_keys "
                     f"{config.max_keys})")
    reports = []
    for key in chosen:
        found, dropped = regimes.get(key, ([], 0))
        reports.append(KeyReport(
            key=key,
            series=series.key_series(key) if series is not None and key in charted else None,
            regimes=found, alerts=[a for a in kept if alert_matches(a, key)],
            dropped_regimes=dropped,
        ))
    surfaces = [] if series is None else [series.surface_series(s) for s in series.surfaces()]
    first_ns, last_ns, calls = None, None, 0
    if series is not None and series.calls:
        first_ns, last_ns, calls = series.first_ns, series.last_ns, series.calls
    else:
        starts = [r.start_ns for _, found, _ in ledgers for r in found]
        ends = [r.last_call_ns or r.start_ns for _, found, _ in ledgers for r in found]
        first_ns, last_ns = min(starts, default=None), max(ends, default=None)
        calls = sum(r.calls for _, found, _ in ledgers for r in found)
    return ReportData(title=title, source=source, keys=reports, surfaces=surfaces, daily=daily,
                      alerts=kept, first_ns=first_ns, last_ns=last_ns, calls=calls, notes=notes)
