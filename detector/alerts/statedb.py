"""The alert state database: one SQLite file (stdlib ``sqlite3``) in the state directory.

It holds the notification log, the outbox of undelivered messages, the dead letters and the
pipeline snapshot, so that recording "notified" and queueing the message happen in one
transaction. Without a state directory it lives in memory (tests, ``--input`` dry runs).
Every access goes through :meth:`AlertStateDb.transaction`, which serialises threads.

>>> db = AlertStateDb(None)
>>> with db.transaction() as cur:
...     _ = cur.execute("INSERT INTO kv(name, value) VALUES ('a', '1')")
>>> db.get_value("a")
'1'
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS nflog (
    destination TEXT NOT NULL, group_key TEXT NOT NULL,
    firing TEXT NOT NULL, resolved TEXT NOT NULL, notified_at TEXT NOT NULL,
    PRIMARY KEY (destination, group_key));
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, destination TEXT NOT NULL, body TEXT NOT NULL,
    dedup_keys TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY, destination TEXT NOT NULL, body TEXT NOT NULL,
    dedup_keys TEXT NOT NULL, error TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kv (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

DB_NAME = "alerts.sqlite3"


class AlertStateDb:
    def __init__(self, state_dir: Path | None) -> None:
        if state_dir is None:
            target = ":memory:"
        else:
            state_dir.mkdir(parents=True, exist_ok=True)
            target = str(state_dir / DB_NAME)
        # one connection shared by the pipeline and the couriers' threads, behind a lock
        self._conn = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL" if state_dir else "PRAGMA journal_mode=MEMORY")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def get_value(self, name: str) -> str | None:
        with self.transaction() as cur:
            row = cur.execute("SELECT value FROM kv WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set_value(self, name: str, value: str) -> None:
        with self.transaction() as cur:
            cur.execute("INSERT OR REPLACE INTO kv(name, value) VALUES (?, ?)", (name, value))

    def close(self) -> None:
        with self._lock:
            self._conn.close()
