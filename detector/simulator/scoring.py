"""Scoring alerts against a scenario's ground truth, exactly as ``docs/benchmark.md`` says.

- a change is **caught** when a firing ``swap`` or ``identity`` alert whose key matches the
  change's key (every field the truth names is equal) has ``detected_at`` at or after the
  change and at most 24 hours after it;
- **delay** is the number of that key's requests that arrived after the change up to the
  first such alert's ``detected_at`` (and the same in seconds);
- every other firing ``swap``/``identity`` alert is a **false alarm**, reported per key per
  30 days of traffic; ``incident`` alerts are never false alarms; resolutions are not alerts;
- divergences (eval vs prod) are caught by a ``divergence`` alert for the request model at
  or after the divergence began; provider incidents by an ``incident`` alert for the provider
  between the incident's start and an hour after its end. Both are reported, apart.

>>> from datetime import datetime, timezone
>>> from swapwatch.detector.alerts.alert import Alert, AlertKey
>>> truth = {"scenario": "s", "variant": "v", "seed": 1, "days": 30.0,
...          "keys": [{"key": {}}, {"key": {}}],
...          "changes": [{"at": "2026-03-02T14:00:00Z", "kind": "silent-downgrade",
...                       "key": {"surface": "chat", "request_model": "gpt-4o"},
...                       "arrivals_after_s": [10.0, 20.0, 30.0, 400.0], "goal": True}]}
>>> def alert(minute, surface="chat"):
...     t = datetime(2026, 3, 2, 14, minute, tzinfo=timezone.utc)
...     return Alert(kind="swap", key=AlertKey(surface=surface, request_model="gpt-4o"),
...                  detected_at=t, changed_at=t, summary="")
>>> score = score_run(truth, [alert(1), alert(5), alert(2, surface="search")])
>>> c = score.changes[0]
>>> c.caught, c.delay_requests, c.delay_s
(True, 3, 60.0)
>>> score.true_alerts, score.false_alarms, score.key_months
(2, 1, 2.0)
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from swapwatch.detector.alerts.alert import Alert
from swapwatch.detector.simulator.truth import parse_time

CATCH_WINDOW_S = 86400.0
INCIDENT_GRACE_S = 3600.0
SWAP_KINDS = frozenset({"swap", "identity"})
KEY_MONTH_DAYS = 30.0


@dataclass(frozen=True)
class ChangeOutcome:
    scenario: str
    kind: str
    key: Mapping[str, str]
    caught: bool
    delay_requests: int | None
    delay_s: float | None
    goal: bool  # moved three or more signals by 20% or more


@dataclass(frozen=True)
class RunScore:
    scenario: str
    variant: str
    seed: int
    changes: tuple[ChangeOutcome, ...]
    swap_alerts: int
    true_alerts: int
    false_alarms: int
    key_months: float
    divergences: int = 0
    divergences_caught: int = 0
    incidents: int = 0
    incidents_caught: int = 0


def key_matches(truth_key: Mapping[str, str], alert: Alert) -> bool:
    """Every field named in the truth's key equals the alert key's field.

    >>> from swapwatch.detector.alerts.alert import AlertKey
    >>> from datetime import datetime, timezone
    >>> t = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> a = Alert(kind="swap", key=AlertKey(surface="chat", request_model="gpt-4o",
    ...           environment="prod"), detected_at=t, changed_at=t, summary="")
    >>> key_matches({"surface": "chat"}, a), key_matches({"environment": "eval"}, a)
    (True, False)
    """
    labels = alert.key.labels()
    return all(labels.get(field) == value for field, value in truth_key.items())


def requests_until(arrivals_after_s: Sequence[float], delay_s: float) -> int:
    """How many of the key's requests (offsets after the change) arrived by ``delay_s``.

    >>> requests_until([1.0, 2.0, 5.0], 2.0), requests_until([1.0, 2.0, 5.0], 0.5)
    (2, 0)
    """
    return bisect.bisect_right(arrivals_after_s, delay_s)


def _timestamp(value: datetime) -> float:
    return value.timestamp()


def _firing(alerts: Iterable[Alert]) -> list[Alert]:
    return sorted((a for a in alerts if a.status == "firing"), key=lambda a: a.detected_at)


def score_run(truth: Mapping[str, Any], alerts: Iterable[Alert]) -> RunScore:
    """Score one scenario run's alerts against its ``truth.json`` document."""
    firing = _firing(alerts)
    swaps = [a for a in firing if a.kind in SWAP_KINDS]
    attributed: set[int] = set()
    outcomes = []
    for change in truth.get("changes", []):
        at = parse_time(change["at"])
        matching = [
            (i, a) for i, a in enumerate(swaps)
            if key_matches(change["key"], a) and 0 <= _timestamp(a.detected_at) - at
            <= CATCH_WINDOW_S
        ]
        attributed.update(i for i, _ in matching)
        delay_s = _timestamp(matching[0][1].detected_at) - at if matching else None
        outcomes.append(ChangeOutcome(
            scenario=truth["scenario"], kind=change["kind"], key=change["key"],
            caught=bool(matching),
            delay_requests=None if delay_s is None
            else requests_until(change.get("arrivals_after_s", []), delay_s),
            delay_s=delay_s, goal=bool(change.get("goal")),
        ))
    divergences_caught = 0
    for divergence in truth.get("divergences", []):
        since = parse_time(divergence["from"])
        model = divergence["key"]["request_model"]
        if any(a.kind == "divergence" and a.key.request_model == model
               and _timestamp(a.detected_at) >= since for a in firing):
            divergences_caught += 1
    incidents = [b for b in truth.get("benign", []) if b.get("provider")]
    incidents_caught = sum(
        any(a.kind == "incident" and a.key.provider == b["provider"]
            and parse_time(b["from"]) <= _timestamp(a.detected_at)
            <= parse_time(b["to"]) + INCIDENT_GRACE_S for a in firing)
        for b in incidents
    )
    keys = len(truth.get("keys", []))
    return RunScore(
        scenario=truth["scenario"], variant=truth.get("variant", ""),
        seed=int(truth.get("seed", 0)), changes=tuple(outcomes), swap_alerts=len(swaps),
        true_alerts=len(attributed), false_alarms=len(swaps) - len(attributed),
        key_months=keys * float(truth.get("days", 0.0)) / KEY_MONTH_DAYS,
        divergences=len(truth.get("divergences", [])), divergences_caught=divergences_caught,
        incidents=len(incidents), incidents_caught=incidents_caught,
    )


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (``q`` in 0..1); ``None`` for no values.

    >>> percentile([1, 2, 3, 4], 0.5), percentile([10], 0.9), percentile([], 0.5)
    (2.5, 10.0, None)
    """
    data = sorted(float(v) for v in values)
    if not data:
        return None
    pos = q * (len(data) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


@dataclass(frozen=True)
class Summary:
    """One row of the table: a scenario (or ``overall``) over its runs."""

    scenario: str
    runs: int
    changes: int
    caught: int
    goal_changes: int
    goal_caught: int
    swap_alerts: int
    true_alerts: int
    false_alarms: int
    key_months: float
    delay_requests_median: float | None
    delay_requests_p90: float | None
    delay_s_median: float | None
    delay_s_p90: float | None
    divergences: int
    divergences_caught: int
    incidents: int
    incidents_caught: int

    @property
    def recall(self) -> float | None:
        return self.caught / self.changes if self.changes else None

    @property
    def goal_recall(self) -> float | None:
        return self.goal_caught / self.goal_changes if self.goal_changes else None

    @property
    def precision(self) -> float | None:
        return self.true_alerts / self.swap_alerts if self.swap_alerts else None

    @property
    def false_alarms_per_key_month(self) -> float | None:
        return self.false_alarms / self.key_months if self.key_months else None

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out.update(recall=self.recall, goal_recall=self.goal_recall, precision=self.precision,
                   false_alarms_per_key_month=self.false_alarms_per_key_month)
        return out


def summarize(name: str, runs: Sequence[RunScore]) -> Summary:
    changes = [c for r in runs for c in r.changes]
    caught = [c for c in changes if c.caught]
    delays_r = [float(c.delay_requests) for c in caught if c.delay_requests is not None]
    delays_s = [c.delay_s for c in caught if c.delay_s is not None]
    return Summary(
        scenario=name, runs=len(runs), changes=len(changes), caught=len(caught),
        goal_changes=sum(c.goal for c in changes), goal_caught=sum(c.goal for c in caught),
        swap_alerts=sum(r.swap_alerts for r in runs),
        true_alerts=sum(r.true_alerts for r in runs),
        false_alarms=sum(r.false_alarms for r in runs),
        key_months=sum(r.key_months for r in runs),
        delay_requests_median=percentile(delays_r, 0.5),
        delay_requests_p90=percentile(delays_r, 0.9),
        delay_s_median=percentile(delays_s, 0.5), delay_s_p90=percentile(delays_s, 0.9),
        divergences=sum(r.divergences for r in runs),
        divergences_caught=sum(r.divergences_caught for r in runs),
        incidents=sum(r.incidents for r in runs),
        incidents_caught=sum(r.incidents_caught for r in runs),
    )


def summarize_by_scenario(runs: Sequence[RunScore]) -> list[Summary]:
    """One summary per scenario (in first-seen order), then ``overall``."""
    names = list(dict.fromkeys(r.scenario for r in runs))
    rows = [summarize(n, [r for r in runs if r.scenario == n]) for n in names]
    return [*rows, summarize("overall", runs)]


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if digits else f"{value:.0f}"


def render_table(rows: Sequence[Summary]) -> str:
    """A fixed-width table (also valid Markdown) of the summaries."""
    header = ["scenario", "runs", "changes", "recall", "recall(goal)", "precision",
              "delay req p50", "delay req p90", "delay s p50", "delay s p90",
              "false alarms", "FA/key-month", "divergence", "incident"]
    lines = []
    for r in rows:
        lines.append([
            r.scenario, str(r.runs), str(r.changes), _fmt(r.recall),
            f"{_fmt(r.goal_recall)} ({r.goal_caught}/{r.goal_changes})",
            _fmt(r.precision), _fmt(r.delay_requests_median, 0), _fmt(r.delay_requests_p90, 0),
            _fmt(r.delay_s_median, 0), _fmt(r.delay_s_p90, 0), str(r.false_alarms),
            _fmt(r.false_alarms_per_key_month, 3),
            f"{r.divergences_caught}/{r.divergences}" if r.divergences else "-",
            f"{r.incidents_caught}/{r.incidents}" if r.incidents else "-",
        ])
    widths = [max(len(h), *(len(row[i]) for row in lines)) for i, h in enumerate(header)]

    def fmt(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([fmt(header), rule, *(fmt(row) for row in lines)])


def read_alerts(lines: Iterable[str]) -> list[Alert]:
    """Alerts from JSON lines (blank lines skipped)."""
    return [Alert.model_validate_json(line) for line in lines if line.strip()]
