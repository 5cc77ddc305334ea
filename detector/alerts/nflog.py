"""The notification log: what each destination was last told about each group, and when.

Persisted in the alert state database, in the same transaction that puts the message in the
outbox, so a restart neither pages twice nor forgets a page. The decision "notify again?" is
:func:`notify_reason`, a pure function of (log entry, current alerts, now), as in
Alertmanager's ``dedup_stage``.

>>> from datetime import datetime, timedelta, timezone
>>> t = datetime(2026, 3, 1, tzinfo=timezone.utc)
>>> day = timedelta(days=1)
>>> notify_reason(None, {"a"}, set(), t, day, True)
'first notification'
>>> entry = NflogEntry(frozenset({"a"}), frozenset(), t)
>>> notify_reason(entry, {"a"}, set(), t + timedelta(hours=1), day, True) is None
True
>>> notify_reason(entry, set(), {"a"}, t + timedelta(hours=1), day, True)
'resolved: a'
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Set
from dataclasses import dataclass
from datetime import datetime, timedelta

from swapwatch.detector.alerts.statedb import AlertStateDb


@dataclass(frozen=True)
class NflogEntry:
    firing: frozenset[str]  # dedup keys announced as firing (and not resolved since)
    resolved: frozenset[str]  # dedup keys announced as resolved
    notified_at: datetime  # event time of the notification


def notify_reason(
    entry: NflogEntry | None,
    firing: Set[str],
    resolved: Set[str],
    now: datetime,
    repeat_interval: timedelta,
    send_resolved: bool,
) -> str | None:
    """Why this group must be notified now, or ``None`` when the destination is up to date."""
    if entry is None:
        return "first notification" if firing else None
    new_firing = set(firing) - entry.firing
    if new_firing:
        return "new firing: " + ", ".join(sorted(new_firing))
    newly_resolved = set(resolved) & entry.firing
    if send_resolved and newly_resolved:
        return "resolved: " + ", ".join(sorted(newly_resolved))
    if firing and now >= entry.notified_at + repeat_interval:
        return "repeat interval elapsed"
    return None


def next_entry(
    entry: NflogEntry | None, firing: Set[str], resolved: Set[str], now: datetime
) -> NflogEntry:
    """The log entry after notifying ``firing`` and ``resolved`` at ``now``."""
    announced_resolved = set(resolved) & (entry.firing if entry else frozenset())
    return NflogEntry(frozenset(firing), frozenset(announced_resolved), now)


class NotificationLog:
    """:class:`NflogEntry` rows, cached in memory (event-time replays read it at every group
    tick) and written through to the state database inside the caller's transaction."""

    def __init__(self, db: AlertStateDb) -> None:
        self._db = db
        self._cache: dict[tuple[str, str], NflogEntry] = {}
        with db.transaction() as cur:
            rows = cur.execute(
                "SELECT destination, group_key, firing, resolved, notified_at FROM nflog")
            for dest, group, firing, resolved, at in rows.fetchall():
                self._cache[(dest, group)] = NflogEntry(
                    frozenset(json.loads(firing)), frozenset(json.loads(resolved)),
                    datetime.fromisoformat(at))

    def get(self, destination: str, group_key: str) -> NflogEntry | None:
        return self._cache.get((destination, group_key))

    def put(self, cur: sqlite3.Cursor, destination: str, group_key: str,
            entry: NflogEntry) -> None:
        cur.execute(
            "INSERT OR REPLACE INTO nflog(destination, group_key, firing, resolved, notified_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (destination, group_key, json.dumps(sorted(entry.firing)),
             json.dumps(sorted(entry.resolved)), entry.notified_at.isoformat()))
        self._cache[(destination, group_key)] = entry

    def forget_quiet(self, before: datetime) -> int:
        """Drop entries with nothing firing that were last written before ``before``."""
        stale = [k for k, e in self._cache.items() if not e.firing and e.notified_at < before]
        with self._db.transaction() as cur:
            cur.executemany("DELETE FROM nflog WHERE destination = ? AND group_key = ?", stale)
        for k in stale:
            del self._cache[k]
        return len(stale)
