"""Silences: matchers with a start and an end, in event time; from config and from the CLI.

Silences made with ``swapwatch silence add`` live in ``silences.json`` in the state directory
(written atomically); the running detector re-reads the file when it changes. A silence mutes
matching alerts while ``starts_at <= now < ends_at``; expiring one sets ``ends_at``.

>>> from datetime import datetime, timedelta, timezone
>>> from swapwatch.detector.alerts.labels import parse_matcher
>>> t = datetime(2026, 3, 2, tzinfo=timezone.utc)
>>> s = Silence(id="s1", matchers=[parse_matcher("provider=openai")], starts_at=t,
...             ends_at=t + timedelta(hours=2))
>>> silenced_by({"provider": "openai"}, [s], t + timedelta(hours=1)).id
's1'
>>> silenced_by({"provider": "openai"}, [s], t + timedelta(hours=2)) is None
True
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, TypeAdapter
from swapwatch.detector.alerts.config import MatcherConfig, SilenceConfig
from swapwatch.detector.alerts.labels import all_match

SILENCES_FILE = "silences.json"


class Silence(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    matchers: list[MatcherConfig]
    starts_at: datetime
    ends_at: datetime
    comment: str = ""
    created_by: str = ""

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    @classmethod
    def from_config(cls, index: int, cfg: SilenceConfig) -> Silence:
        return cls(id=f"config-{index}", matchers=cfg.matchers, starts_at=cfg.starts_at,
                   ends_at=cfg.ends_at, comment=cfg.comment, created_by=cfg.created_by)


def silenced_by(labels: Mapping[str, str], silences: Iterable[Silence],
                now: datetime) -> Silence | None:
    """The first active silence whose matchers all match, else ``None``."""
    for silence in silences:
        if silence.active(now) and all_match(silence.matchers, labels):
            return silence
    return None


_LIST = TypeAdapter(list[Silence])


def write_atomic(path: Path, text: str) -> None:
    """Write a whole file or nothing (temp file in the same directory, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class SilenceStore:
    """The CLI-managed silences of a state directory (none when there is no directory)."""

    def __init__(self, state_dir: Path | None) -> None:
        self.path = None if state_dir is None else state_dir / SILENCES_FILE
        self._cache: list[Silence] = []
        self._stamp: tuple[int, int] | None = None

    def load(self) -> list[Silence]:
        """Current silences, re-read only when the file changed."""
        if self.path is None or not self.path.exists():
            return []
        st = self.path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            self._cache = _LIST.validate_json(self.path.read_bytes())
            self._stamp = stamp
        return list(self._cache)

    def _save(self, silences: list[Silence]) -> None:
        if self.path is None:
            raise ValueError("silences need a state directory")
        write_atomic(self.path, json.dumps(
            [json.loads(s.model_dump_json()) for s in silences], indent=1))

    def add(self, matchers: list[MatcherConfig], starts_at: datetime, ends_at: datetime,
            comment: str = "", created_by: str = "") -> Silence:
        if ends_at <= starts_at:
            raise ValueError("a silence must end after it starts")
        silence = Silence(id=uuid.uuid4().hex[:12], matchers=matchers, starts_at=starts_at,
                          ends_at=ends_at, comment=comment, created_by=created_by)
        self._save([*self.load(), silence])
        return silence

    def expire(self, silence_id: str, at: datetime) -> Silence:
        silences = self.load()
        for i, silence in enumerate(silences):
            if silence.id == silence_id:
                silences[i] = silence.model_copy(update={"ends_at": min(silence.ends_at, at)})
                self._save(silences)
                return silences[i]
        raise KeyError(f"no silence with id {silence_id!r}")
