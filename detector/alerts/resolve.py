"""When a firing alert resolves on its own terms (a pure decision, event time).

* ``swap``: an operator acknowledged the new regime (an ack for the alert's dedup key or
  series slug given at or after the change), or, when ``swap_stable_for`` is set, the new
  regime has lasted that long since it was detected, with no newer change on the key.
* ``identity``, ``incident``, ``divergence``: detection sends the resolved alert itself (for
  identity, when mismatches stop); nothing is decided here.

>>> from datetime import datetime, timedelta, timezone
>>> from swapwatch.detector.alerts.alert import Alert, AlertKey
>>> from swapwatch.detector.alerts.config import AckConfig
>>> t = datetime(2026, 3, 2, tzinfo=timezone.utc)
>>> a = Alert(kind="swap", key=AlertKey(provider="openai", request_model="gpt-4o"),
...           detected_at=t, changed_at=t, summary="s")
>>> resolve_reason(a, [], t + timedelta(hours=2), stable_for=timedelta(hours=1))
'new regime stable for 1:00:00'
>>> resolve_reason(a, [AckConfig(key=a.key.slug(), at=t)], t, stable_for=None)
'acknowledged at 2026-03-02 00:00:00+00:00'
>>> resolve_reason(a, [], t + timedelta(minutes=5), stable_for=timedelta(hours=1)) is None
True
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from swapwatch.detector.alerts.alert import Alert
from swapwatch.detector.alerts.config import AckConfig


def resolve_reason(alert: Alert, acks: Iterable[AckConfig], now: datetime,
                   stable_for: timedelta | None) -> str | None:
    if alert.kind != "swap" or alert.status != "firing":
        return None
    names = {alert.dedup_key, alert.key.slug()}
    for ack in acks:
        if ack.key in names and ack.at >= alert.changed_at and ack.at <= now:
            return f"acknowledged at {ack.at}"
    if stable_for is not None and now >= stable_deadline(alert, stable_for):
        return f"new regime stable for {stable_for}"
    return None


def stable_deadline(alert: Alert, stable_for: timedelta) -> datetime:
    """When a swap alert resolves by stability: counted from its detection, so a late
    detection is still announced before it resolves."""
    return max(alert.changed_at, alert.detected_at) + stable_for
