"""Per-partition detector state and where it is kept between runs.

The order of a checkpoint is fixed (quix-streams' rule): flush alerts → persist state → commit
offsets. The state file also records the offset of the next record to process, and a consumer
that is assigned a partition seeks there: the state file, not the group's committed offset, is
the truth. So a crash between "persist" and "commit" neither loses nor double-counts a call in
the learned baselines, and the commit only serves lag monitoring and a missing state file.

Why a directory and not a compacted Kafka topic: detector state is pickled river learners for
every series of a partition; it grows to megabytes, above Kafka's default 1 MB record limit, so
a topic store needs chunking and broker-side limits raised, and restoring means reading the
whole state topic on every assignment. A file per partition is exact, fast to restore, and
easy to inspect; the consumers of a group share the directory (one host, or a shared volume in
Kubernetes). The :class:`StateStore` protocol keeps a Kafka-backed store a drop-in addition.

Why SQLite and not one pickle: a partition holds up to 100k series keys of ~10 KB each, and
pickling them all cost ~0.5 ms of CPU a key at every checkpoint (10k keys: 5 s every 10 s).
The file keeps one row per key, and a checkpoint is one transaction that rewrites only the
keys changed since the last one (see :class:`DirectoryStateStore`).

>>> import tempfile
>>> store = DirectoryStateStore(tempfile.mkdtemp())
>>> state = PartitionState.fresh("swapwatch_calls", 3, detector={"learned": 1})
>>> state.seen.add(("trace", "span"))
True
>>> state.next_offset = 42
>>> store.save(state)
>>> back = store.load("swapwatch_calls", 3)
>>> (back.next_offset, back.detector, ("trace", "span") in back.seen)
(42, {'learned': 1}, True)
>>> store.load("swapwatch_calls", 4) is None
True
>>> checkpoint_due(calls_since=10, seconds_since=0.5, every_calls=5000, interval_s=10)
>>> checkpoint_due(calls_since=5000, seconds_since=0.5, every_calls=5000, interval_s=10)
'calls'
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import sqlite3
import time
import uuid
import weakref
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from swapwatch.detector.runtime.dedup import DedupWindow
from swapwatch.detector.runtime.keyrecords import SharedMemo, matched

log = logging.getLogger(__name__)

STATE_FORMAT_VERSION = 3  # 3: SQLite, a record per series key; 2: one pickle (still read)
_PICKLED_VERSION = 2
CheckpointReason = Literal["calls", "interval", "revoked", "shutdown"]


class StateCorrupt(RuntimeError):
    """A state file exists but cannot be read; refusing to silently re-warm from zero."""


class StateOutdated(StateCorrupt):
    """A state file of a format this version no longer reads."""


@dataclass
class PartitionState:
    """Everything one partition's detection needs to resume exactly where it stopped."""

    topic: str
    partition: int
    next_offset: int
    detector: Any
    seen: DedupWindow
    # max event time (unix ns) seen in this partition: the partition's clock
    watermark_ns: int = 0
    version: int = field(default=STATE_FORMAT_VERSION)

    @classmethod
    def fresh(
        cls, topic: str, partition: int, detector: Any, dedup_window: int = 100_000
    ) -> PartitionState:
        return cls(topic, partition, next_offset=0, detector=detector,
                   seen=DedupWindow(dedup_window))


class StateStore(Protocol):
    def load(self, topic: str, partition: int) -> PartitionState | None: ...

    def save(self, state: PartitionState) -> None: ...


class KeyedDetector(Protocol):
    """A detector whose state is per series key (``swapwatch.detector.detection.Detector``):
    checkpointed one record per changed key, not pickled whole."""

    config: Any

    def take_changes(self) -> tuple[dict[Any, Any], set[Any]]: ...

    def shared_state(self) -> dict[str, Any]: ...

    def key_states(self) -> list[tuple[Any, Any]]: ...

    @classmethod
    def from_checkpoint(cls, shared: dict[str, Any], states: Mapping[Any, Any]) -> Any: ...

    @staticmethod
    def checkpoint_objects(config: Any) -> list[object]: ...


def _keyed(detector: Any) -> bool:
    return callable(getattr(detector, "take_changes", None)) and callable(
        getattr(type(detector), "from_checkpoint", None))


@dataclass
class _Lineage:
    """What a store knows of a file it wrote or read: it holds ``detector``'s state as of its
    last :meth:`~KeyedDetector.take_changes`, if the file is still at ``(writer, seq)``."""

    detector: weakref.ref[Any]
    writer: str
    seq: int
    memo: SharedMemo


class DirectoryStateStore:
    """One SQLite file per partition under ``root``: the partition's position and dedup window
    and the detector's shared state in ``meta``, one row per series key in ``keys``.

    A checkpoint of a keyed detector is one transaction: upsert the keys changed since the
    last checkpoint, delete the dropped ones, replace ``meta``; it costs O(keys changed), not
    O(keys held). The first checkpoint of a detector (and any whose file this store did not
    write or read last: a zombie owner, a deleted file) writes everything to a new file that
    replaces the old one atomically, as does every checkpoint of a detector without keys
    (pickled whole into ``meta``). Rollback journal, ``synchronous=FULL``: a kill at any
    point leaves the last committed checkpoint. Version 2 files (one pickle) are read and
    rewritten in this format at their next checkpoint.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lineage: dict[tuple[str, int], _Lineage] = {}

    def path(self, topic: str, partition: int) -> Path:
        return self.root / f"{topic}-{partition}.state"

    # --- load ------------------------------------------------------------------------------
    def load(self, topic: str, partition: int) -> PartitionState | None:
        path = self.path(topic, partition)
        self._lineage.pop((topic, partition), None)
        if not path.exists():
            return None
        try:
            with closing(_connect(path)) as db:
                meta = dict(db.execute("SELECT name, value FROM meta"))
                if meta.get("format") != _FORMAT or meta.get("version") != STATE_FORMAT_VERSION:
                    raise StateCorrupt(f"{path}: not a swapwatch partition state "
                                       f"v{STATE_FORMAT_VERSION} (format {meta.get('format')!r}"
                                       f", version {meta.get('version')!r})")
                state, lineage = self._restore(db, meta, path)
        except sqlite3.DatabaseError as err:
            return _legacy(path, err)
        if lineage is not None:
            self._lineage[(topic, partition)] = lineage
        return state

    def _restore(self, db: sqlite3.Connection, meta: dict[str, Any], path: Path
                 ) -> tuple[PartitionState, _Lineage | None]:
        try:
            state = pickle.loads(meta["partition"])
            detector = pickle.loads(meta["detector"])
            if detector[0] == "whole":
                state.detector = detector[1]
                return state, None
            _, cls, shared = detector
            memo = SharedMemo(matched(pickle.loads(meta["objects"]),
                                      cls.checkpoint_objects(shared["config"])))
            states = {tuple(json.loads(key)): memo.loads(blob)
                      for key, blob in db.execute("SELECT key, state FROM keys")}
            state.detector = cls.from_checkpoint(shared, states)
        except (sqlite3.DatabaseError, StateCorrupt):
            raise
        except Exception as err:  # any unpickling failure means the same thing here
            raise StateCorrupt(f"{path}: {type(err).__name__}: {err}") from err
        if not isinstance(state, PartitionState):
            raise StateCorrupt(f"{path}: not a swapwatch partition state v{STATE_FORMAT_VERSION}")
        return state, _Lineage(weakref.ref(state.detector), meta["writer"], meta["seq"], memo)

    def set_aside(self, topic: str, partition: int) -> Path | None:
        """Move an unreadable state file out of the way (the next checkpoint starts a new
        one); returns where it went."""
        path = self.path(topic, partition)
        self._lineage.pop((topic, partition), None)
        aside = path.with_name(f"{path.name}.unreadable-{int(time.time())}")
        try:
            os.replace(path, aside)
        except FileNotFoundError:
            return None
        path.with_name(f"{path.name}-journal").unlink(missing_ok=True)
        return aside

    # --- save ------------------------------------------------------------------------------
    def save(self, state: PartitionState) -> None:
        """Persist ``state``: incrementally when this store holds the detector's lineage."""
        tp = (state.topic, state.partition)
        lineage = self._lineage.pop(tp, None)  # kept again only if this save succeeds
        detector = state.detector
        if not _keyed(detector):
            self._rewrite(state)
            return
        changed, removed = detector.take_changes()
        if (lineage is None or lineage.detector() is not detector
                or not self._update(state, lineage, changed, removed)):
            lineage = self._rewrite(state)
        self._lineage[tp] = lineage  # type: ignore[assignment]

    def _update(self, state: PartitionState, lineage: _Lineage, changed: dict[Any, Any],
                removed: set[Any]) -> bool:
        """One transaction on the existing file; ``False`` when it is not the one this store
        wrote last (then nothing is written)."""
        path = self.path(state.topic, state.partition)
        if not path.exists():
            return False
        dumps = lineage.memo.dumps
        try:
            with closing(_connect(path)) as db:
                db.execute("BEGIN IMMEDIATE")
                at = dict(db.execute("SELECT name, value FROM meta WHERE name IN "
                                     "('format', 'version', 'writer', 'seq')"))
                if at != {"format": _FORMAT, "version": STATE_FORMAT_VERSION,
                          "writer": lineage.writer, "seq": lineage.seq}:
                    db.execute("ROLLBACK")
                    log.warning("%s was written by another owner since; rewriting it whole",
                                path)
                    return False
                db.executemany("INSERT OR REPLACE INTO keys VALUES (?, ?)",
                               [(_key(k), dumps(s)) for k, s in changed.items()])
                db.executemany("DELETE FROM keys WHERE key = ?", [(_key(k),) for k in removed])
                db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                               _meta(state, lineage.writer, lineage.seq + 1,
                                     ("keyed", type(state.detector),
                                      state.detector.shared_state())))
                db.execute("COMMIT")
        except sqlite3.DatabaseError as err:
            log.warning("%s: incremental checkpoint failed (%s); rewriting it whole", path, err)
            return False
        lineage.seq += 1
        return True

    def _rewrite(self, state: PartitionState) -> _Lineage | None:
        """Everything, into a new file that atomically replaces the old one."""
        path = self.path(state.topic, state.partition)
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
        tmp.unlink(missing_ok=True)
        detector, writer, lineage = state.detector, uuid.uuid4().hex, None
        with closing(_connect(tmp)) as db:
            db.execute("PRAGMA journal_mode=OFF")  # a new file: a crash leaves only a temp file
            db.execute("BEGIN")
            for statement in _SCHEMA:
                db.execute(statement)
            if _keyed(detector):
                memo = SharedMemo(type(detector).checkpoint_objects(detector.config))
                lineage = _Lineage(weakref.ref(detector), writer, 0, memo)
                db.executemany("INSERT INTO keys VALUES (?, ?)",
                               [(_key(k), memo.dumps(s)) for k, s in detector.key_states()])
                kind: tuple[Any, ...] = ("keyed", type(detector), detector.shared_state())
                db.execute("INSERT INTO meta VALUES ('objects', ?)", (_dumps(memo.objects),))
            else:
                kind = ("whole", detector)
            db.executemany("INSERT INTO meta VALUES (?, ?)", _meta(state, writer, 0, kind))
            db.execute("COMMIT")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        _settle(path)
        os.replace(tmp, path)
        dir_fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return lineage


_FORMAT = "swapwatch-partition-state"
_SCHEMA = ("CREATE TABLE meta (name TEXT PRIMARY KEY, value NOT NULL)",
           "CREATE TABLE keys (key TEXT PRIMARY KEY, state BLOB NOT NULL)")


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, timeout=30.0)
    db.execute("PRAGMA synchronous=FULL")
    return db


def _dumps(obj: Any) -> bytes:
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def _key(key: Any) -> str:
    """A series key (a tuple of strings and ``None``) as the text of its row."""
    return json.dumps(key, separators=(",", ":"))


def _meta(state: PartitionState, writer: str, seq: int, detector: tuple[Any, ...]
          ) -> list[tuple[str, Any]]:
    return [("format", _FORMAT), ("version", STATE_FORMAT_VERSION), ("writer", writer),
            ("seq", seq), ("partition", _dumps(replace(state, detector=None))),
            ("detector", _dumps(detector))]


def _settle(path: Path) -> None:
    """Before ``path`` is replaced: roll back an interrupted transaction (a hot journal left
    by a kill) on the old file, so that the journal cannot be applied to the new one."""
    journal = path.with_name(f"{path.name}-journal")
    if not journal.exists():
        return
    try:
        with closing(_connect(path)) as db:
            db.execute("SELECT count(*) FROM sqlite_master").fetchall()
    except sqlite3.DatabaseError:
        pass
    journal.unlink(missing_ok=True)


def _legacy(path: Path, err: Exception) -> PartitionState:
    """A file that is not SQLite: a version 2 state (one pickle) is read as it is; anything
    else is refused."""
    try:
        state = pickle.loads(path.read_bytes())
    except Exception as not_pickle:  # any unpickling failure means the same thing here
        raise StateCorrupt(f"{path}: {type(err).__name__}: {err}") from not_pickle
    if not isinstance(state, PartitionState):
        raise StateCorrupt(f"{path}: not a swapwatch partition state v{STATE_FORMAT_VERSION}")
    if state.version != _PICKLED_VERSION:
        raise StateOutdated(f"{path}: a swapwatch partition state v{state.version}; this "
                            f"version reads v{STATE_FORMAT_VERSION} and v{_PICKLED_VERSION}")
    log.info("%s: a version %d state (one pickle); rewritten as version %d at its next "
             "checkpoint", path, _PICKLED_VERSION, STATE_FORMAT_VERSION)
    state.version = STATE_FORMAT_VERSION
    return state


def checkpoint_due(
    calls_since: int, seconds_since: float, every_calls: int, interval_s: float
) -> CheckpointReason | None:
    """Whether a partition should checkpoint now, and why (pure; table-tested)."""
    if calls_since >= every_calls:
        return "calls"
    if calls_since > 0 and seconds_since >= interval_s:
        return "interval"
    return None
