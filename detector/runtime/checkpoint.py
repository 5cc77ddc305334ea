"""Per-partition detector state and where it is kept between runs.

The order of a checkpoint is fixed (quix-streams' rule): flush alerts → persist state → commit
offsets. The state file also records the offset of the next record to process, and a consumer
that is assigned a partition seeks there: the state file, not the group's committed offset, is
the truth. So a crash between "persist" and "commit" neither loses nor double-counts a call in
the learned baselines, and the commit only serves lag monitoring and a missing state file.

Why a directory and not a compacted Kafka topic: detector state is pickled river learners for
every series of a partition; it grows to megabytes, above Kafka's default 1 MB record limit, so
a topic store needs chunking and broker-side limits raised, and restoring means reading the
whole state topic on every assignment. A file per partition written by atomic rename is exact,
fast to restore, and easy to inspect; the consumers of a group share the directory (one host, or
a shared volume in Kubernetes). The :class:`StateStore` protocol keeps a Kafka-backed store a
drop-in addition.

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

import os
import pickle
from collections import deque
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, Literal, Protocol

STATE_FORMAT_VERSION = 2  # 2: slotted learners, no staged call records per key
CheckpointReason = Literal["calls", "interval", "revoked", "shutdown"]


class StateCorrupt(RuntimeError):
    """A state file exists but cannot be read; refusing to silently re-warm from zero."""


class DedupWindow:
    """The most recent ``capacity`` call identities, oldest forgotten first.

    A set for membership and a deque for age. It is pickled with every checkpoint of its
    partition, which at full capacity (100,000 identities) was most of the checkpoint's cost
    (~65 ms as an ``OrderedDict``, every ``checkpoint_every_calls`` calls: ~13 µs per call).
    Identities that are pairs of strings (what ``records.call_identity`` gives) are therefore
    pickled as two newline-joined strings (~4x cheaper to write); any other identity is
    pickled as it is.

    >>> w = DedupWindow(capacity=2)
    >>> [w.add(x) for x in ("a", "b", "a", "c", "a")]
    [True, True, False, True, True]
    >>> len(w)
    2
    >>> pairs = DedupWindow(capacity=3)
    >>> [pairs.add((t, "s")) for t in "abcd"]
    [True, True, True, True]
    >>> back = pickle.loads(pickle.dumps(pairs))
    >>> (list(back._order), back.add(("b", "s")), back.add(("a", "s")))
    ([('b', 's'), ('c', 's'), ('d', 's')], False, True)
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._seen: set[Any] = set()
        self._order: deque[Any] = deque()

    def add(self, identity: Any) -> bool:
        """Remember ``identity``; ``False`` when it was already in the window."""
        if self.capacity <= 0:
            return True
        if identity in self._seen:
            return False
        self._seen.add(identity)
        self._order.append(identity)
        if len(self._order) > self.capacity:
            self._seen.discard(self._order.popleft())
        return True

    def __contains__(self, identity: object) -> bool:
        return identity in self._seen

    def __len__(self) -> int:
        return len(self._order)

    def __getstate__(self) -> dict[str, Any]:
        order = list(self._order)
        pairs = _joined_pairs(order)
        if pairs is not None:
            return {"capacity": self.capacity, "pairs": pairs}
        return {"capacity": self.capacity, "order": order}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.capacity = state["capacity"]
        if "pairs" in state:
            firsts, seconds = state["pairs"]
            order: list[Any] = list(zip(firsts.split("\n"), seconds.split("\n"), strict=True))
        elif "order" in state:
            order = state["order"]
        else:  # written while the window was an OrderedDict
            order = list(state["_seen"])
        self._order = deque(order)
        self._seen = set(order)


def _joined_pairs(order: list[Any]) -> tuple[str, str] | None:
    """Pairs of strings as two newline-joined strings; ``None`` when they are not that (or a
    string holds a newline, which would not split back)."""
    if (not order or set(map(type, order)) != {tuple} or set(map(len, order)) != {2}):
        return None
    try:
        firsts = "\n".join(map(itemgetter(0), order))
        seconds = "\n".join(map(itemgetter(1), order))
    except TypeError:
        return None
    lines = len(order) - 1
    if firsts.count("\n") != lines or seconds.count("\n") != lines:
        return None
    return firsts, seconds


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


class DirectoryStateStore:
    """One pickle per partition under ``root``, replaced atomically (write, fsync, rename)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, topic: str, partition: int) -> Path:
        return self.root / f"{topic}-{partition}.state"

    def load(self, topic: str, partition: int) -> PartitionState | None:
        path = self.path(topic, partition)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            state = pickle.loads(raw)
        except Exception as err:  # any unpickling failure means the same thing here
            raise StateCorrupt(f"{path}: {type(err).__name__}: {err}") from err
        if not isinstance(state, PartitionState) or state.version != STATE_FORMAT_VERSION:
            raise StateCorrupt(f"{path}: not a swapwatch partition state v{STATE_FORMAT_VERSION}")
        return state

    def save(self, state: PartitionState) -> None:
        path = self.path(state.topic, state.partition)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with open(tmp, "wb") as fh:
            pickle.dump(state, fh, protocol=pickle.HIGHEST_PROTOCOL)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def checkpoint_due(
    calls_since: int, seconds_since: float, every_calls: int, interval_s: float
) -> CheckpointReason | None:
    """Whether a partition should checkpoint now, and why (pure; table-tested)."""
    if calls_since >= every_calls:
        return "calls"
    if calls_since > 0 and seconds_since >= interval_s:
        return "interval"
    return None
