"""JSON lines: each alert, once when it starts firing and once when it resolves.

This is what ``swapwatch detect --alerts-out FILE`` writes: every line is an :class:`Alert`
(``Alert.model_validate_json(line)`` reads it back). ``path: "-"`` writes to standard output.

>>> import io
>>> from datetime import datetime, timezone
>>> from swapwatch.detector.alerts.alert import Alert, AlertKey
>>> from swapwatch.detector.alerts.config import JsonlConfig
>>> from swapwatch.detector.alerts.notification import Notification
>>> t = datetime(2026, 3, 2, tzinfo=timezone.utc)
>>> a = Alert(kind="swap", key=AlertKey(provider="openai"), detected_at=t, changed_at=t,
...           summary="s")
>>> out = io.StringIO()
>>> notifier = JsonlNotifier(JsonlConfig(path="-"), stream=out)
>>> n = Notification("jsonl", "g", {}, (a,), (), (a,), (), "first notification", t)
>>> for message in notifier.render(n):
...     notifier.notify(message)
>>> Alert.model_validate_json(out.getvalue()) == a
True
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO

from swapwatch.detector.alerts.config import JsonlConfig
from swapwatch.detector.alerts.notification import (
    DeliveryError,
    Notification,
    OutboundMessage,
    RecoverableError,
)


class JsonlNotifier:
    name = "jsonl"

    def __init__(self, config: JsonlConfig, stream: IO[str] | None = None) -> None:
        self.config = config
        self._stream = stream
        self._owned = False

    def render(self, notification: Notification) -> list[OutboundMessage]:
        alerts = [*notification.new_firing, *notification.new_resolved]
        return [OutboundMessage(self.name, json.loads(a.model_dump_json()), (a.dedup_key,))
                for a in alerts]

    def _out(self) -> IO[str]:
        if self._stream is None:
            if self.config.path == "-":
                self._stream = sys.stdout
            else:
                path = Path(self.config.path)
                path.parent.mkdir(parents=True, exist_ok=True)
                self._stream = path.open("a", encoding="utf-8")
                self._owned = True
        return self._stream

    def notify(self, message: OutboundMessage) -> DeliveryError | None:
        try:
            out = self._out()
            out.write(json.dumps(message.body, separators=(",", ":")) + "\n")
            out.flush()
        except OSError as err:
            return RecoverableError(f"cannot write {self.config.path}: {err}")
        return None

    def close(self) -> None:
        if self._owned and self._stream is not None:
            self._stream.close()
        self._stream, self._owned = None, False
