"""Aggregation groups and their timers (Alertmanager's dispatcher), in event time.

Alerts whose ``group_by`` labels are equal form one group. A new group first flushes
``group_wait`` after its first alert (so alerts detected together go out together), then on a
``group_interval`` grid anchored at that first flush. A group with nothing new sleeps until
something could change its notification: a repeat falling due, a silence starting or ending,
any alert changing (inhibition crosses groups). :func:`next_tick` is that decision.

>>> from datetime import datetime, timedelta, timezone
>>> t = datetime(2026, 3, 2, tzinfo=timezone.utc)
>>> five = timedelta(minutes=5)
>>> next_tick(anchor=t, interval=five, after=t + timedelta(minutes=7))
datetime.datetime(2026, 3, 2, 0, 10, tzinfo=datetime.timezone.utc)
>>> next_tick(anchor=t, interval=five, after=t)
datetime.datetime(2026, 3, 2, 0, 5, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from swapwatch.detector.alerts.alert import Alert
from swapwatch.detector.alerts.labels import alert_labels


def group_labels(alert: Alert, group_by: Sequence[str]) -> dict[str, str]:
    labels = alert_labels(alert)
    return {name: labels.get(name, "") for name in group_by}


def group_key(labels: dict[str, str]) -> str:
    """A stable text key (it is stored in the notification log)."""
    return ",".join(f"{k}={v}" for k, v in labels.items())


def next_tick(anchor: datetime, interval: timedelta, after: datetime) -> datetime:
    """The first grid time ``anchor + k * interval`` strictly after ``after`` (k ≥ 1)."""
    k = max(1, int((after - anchor) // interval) + 1)
    return anchor + k * interval


@dataclass
class AggregationGroup:
    key: str
    labels: dict[str, str]
    anchor: datetime  # time of the first flush; later flushes sit on its grid
    next_flush_at: datetime | None  # None: asleep until something changes
    alerts: dict[str, Alert] = field(default_factory=dict)  # by dedup key
    seen_version: int = -1  # the alert-store version at the last flush

    def snapshot(self) -> dict[str, Any]:
        return {"key": self.key, "labels": self.labels, "anchor": self.anchor.isoformat(),
                "next_flush_at": None if self.next_flush_at is None
                else self.next_flush_at.isoformat(),
                "alerts": [a.model_dump(mode="json") for a in self.alerts.values()]}

    @classmethod
    def restore(cls, data: dict[str, Any]) -> AggregationGroup:
        alerts = [Alert.model_validate(a) for a in data["alerts"]]
        nf = data["next_flush_at"]
        return cls(key=data["key"], labels=dict(data["labels"]),
                   anchor=datetime.fromisoformat(data["anchor"]),
                   next_flush_at=None if nf is None else datetime.fromisoformat(nf),
                   alerts={a.dedup_key: a for a in alerts})


def merge_alert(current: Alert | None, incoming: Alert) -> Alert | None:
    """The alert to keep when ``incoming`` arrives for a dedup key; ``None``: ignore it.

    A resolved alert stays resolved unless the incoming one is a newer change.

    >>> from datetime import datetime, timezone
    >>> from swapwatch.detector.alerts.alert import AlertKey
    >>> t = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> a = Alert(kind="swap", key=AlertKey(provider="p"), detected_at=t, changed_at=t,
    ...           summary="s")
    >>> done = a.model_copy(update={"status": "resolved"})
    >>> merge_alert(done, a) is None
    True
    >>> merge_alert(done, done) is None
    True
    """
    if current is None:
        # even a resolve for an unknown alert is kept: before a restart it may have paged
        return incoming
    if current.status == "resolved" and incoming.status == "firing":
        return incoming if incoming.changed_at > current.changed_at else None
    if current == incoming:
        return None
    if current.status == incoming.status == "firing" and current.changed_at == incoming.changed_at:
        # the same change reported again: fresher evidence, but it was detected back then
        kept = incoming.model_copy(update={"detected_at": current.detected_at})
        return None if kept == current else kept
    return incoming
