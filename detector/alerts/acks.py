"""Operator acknowledgements of a new regime (``swapwatch ack KEY``), kept in the state dir.

An acknowledgement names an alert's ``dedup_key`` or its series slug and the time it was given.
It resolves the swap alerts of that key that changed at or before that time (a later change is
a new matter and pages again).

>>> import tempfile
>>> from datetime import datetime, timezone
>>> store = AckStore(Path(tempfile.mkdtemp()))
>>> _ = store.add("swap/api/chat/openai/gpt-4o/prod", datetime(2026, 3, 2, tzinfo=timezone.utc))
>>> [a.key for a in store.load()]
['swap/api/chat/openai/gpt-4o/prod']
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from pydantic import TypeAdapter
from swapwatch.detector.alerts.config import AckConfig
from swapwatch.detector.alerts.silences import write_atomic

ACKS_FILE = "acks.json"
Ack = AckConfig
_LIST = TypeAdapter(list[AckConfig])


class AckStore:
    def __init__(self, state_dir: Path | None) -> None:
        self.path = None if state_dir is None else state_dir / ACKS_FILE
        self._cache: list[Ack] = []
        self._stamp: tuple[int, int] | None = None

    def load(self) -> list[Ack]:
        if self.path is None or not self.path.exists():
            return []
        st = self.path.stat()
        if (st.st_mtime_ns, st.st_size) != self._stamp:
            self._cache = _LIST.validate_json(self.path.read_bytes())
            self._stamp = (st.st_mtime_ns, st.st_size)
        return list(self._cache)

    def add(self, key: str, at: datetime) -> Ack:
        if self.path is None:
            raise ValueError("acknowledgements need a state directory")
        ack = Ack(key=key, at=at)
        write_atomic(self.path, json.dumps(
            [json.loads(a.model_dump_json()) for a in [*self.load(), ack]], indent=1))
        return ack
