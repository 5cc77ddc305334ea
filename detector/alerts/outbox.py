"""The outbox: messages rendered for a destination and not yet delivered, in FIFO order.

A message enters in the same transaction that records it in the notification log and leaves
only when the destination accepted it or refused it permanently (then it becomes a dead letter,
kept with its alerts' dedup keys and the error). A restart resumes from whatever is left.

>>> from swapwatch.detector.alerts.statedb import AlertStateDb
>>> from swapwatch.detector.alerts.notification import OutboundMessage
>>> box = Outbox(AlertStateDb(None))
>>> with box.db.transaction() as cur:
...     first = box.put(cur, OutboundMessage("slack", {"text": "hi"}, ("swap/a",)))
>>> box.head("slack").message.body
{'text': 'hi'}
>>> box.dead_letter(box.head("slack"), "HTTP 400: invalid_payload")
>>> box.head("slack") is None, [d["error"] for d in box.dead_letters()]
(True, ['HTTP 400: invalid_payload'])
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from swapwatch.detector.alerts.notification import OutboundMessage
from swapwatch.detector.alerts.statedb import AlertStateDb


@dataclass(frozen=True)
class OutboxItem:
    id: int
    message: OutboundMessage
    attempts: int


class Outbox:
    def __init__(self, db: AlertStateDb) -> None:
        self.db = db

    @staticmethod
    def put(cur: sqlite3.Cursor, message: OutboundMessage) -> int:
        cur.execute("INSERT INTO outbox(destination, body, dedup_keys) VALUES (?, ?, ?)",
                    (message.destination, json.dumps(message.body),
                     json.dumps(list(message.dedup_keys))))
        return int(cur.lastrowid or 0)

    def head(self, destination: str) -> OutboxItem | None:
        with self.db.transaction() as cur:
            row = cur.execute("SELECT id, body, dedup_keys, attempts FROM outbox "
                              "WHERE destination = ? ORDER BY id LIMIT 1",
                              (destination,)).fetchone()
        if row is None:
            return None
        message = OutboundMessage(destination, json.loads(row[1]), tuple(json.loads(row[2])))
        return OutboxItem(int(row[0]), message, int(row[3]))

    def pending(self, destination: str | None = None) -> int:
        with self.db.transaction() as cur:
            if destination is None:
                row = cur.execute("SELECT COUNT(*) FROM outbox").fetchone()
            else:
                row = cur.execute("SELECT COUNT(*) FROM outbox WHERE destination = ?",
                                  (destination,)).fetchone()
        return int(row[0])

    def record_attempt(self, item: OutboxItem, error: str) -> None:
        with self.db.transaction() as cur:
            cur.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                        (error, item.id))

    def delivered(self, item: OutboxItem) -> None:
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM outbox WHERE id = ?", (item.id,))

    def dead_letter(self, item: OutboxItem, error: str) -> None:
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM outbox WHERE id = ?", (item.id,))
            cur.execute("INSERT INTO dead_letters(id, destination, body, dedup_keys, error) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (item.id, item.message.destination, json.dumps(item.message.body),
                         json.dumps(list(item.message.dedup_keys)), error))

    def dead_letters(self) -> list[dict[str, Any]]:
        with self.db.transaction() as cur:
            rows = cur.execute("SELECT id, destination, body, dedup_keys, error "
                               "FROM dead_letters ORDER BY id").fetchall()
        return [{"id": r[0], "destination": r[1], "body": json.loads(r[2]),
                 "dedup_keys": json.loads(r[3]), "error": r[4]} for r in rows]
