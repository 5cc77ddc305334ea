"""What an incremental checkpoint needs from detection: which keys changed, which went away,
and the objects every key's state shares.

A partition's detector holds up to 100k series keys of ~10 KB of learners each; pickling all
of them at every checkpoint cost ~0.5 ms of CPU per key (10k keys: 5 s every 10 s). The
runtime instead writes the state of the keys touched since the last checkpoint, one record
each, next to the detector's small shared state (see ``swapwatch.detector.runtime.checkpoint``).
This module has the two pieces of that which belong to detection:

* :class:`TrackedKeyTable` remembers the keys it dropped (idle, or the idlest when full), so
  the checkpoint deletes their records; the engine marks the keys it touches itself.
* :func:`shared_objects` lists the objects every fresh key state shares (learner
  hyperparameters, the ledger configuration, names). Pickled one key at a time, each record
  would carry, and restore, its own copies of them (~2-3 KB a key); a record refers to them
  by position instead, so restored keys share them again as the live ones do.

>>> table = TrackedKeyTable(max_keys=2, idle_evict_ns=10)
>>> from swapwatch.detector.detection.keys import SeriesKey
>>> a, b, c = (SeriesKey("api", s, None, None, None) for s in "abc")
>>> for i, key in enumerate((a, b, c)):
...     _ = table.get_or_create(key, now_ns=i, factory=dict)
>>> sorted(k.surface for k in table.dropped)  # the idlest made room for "c"
['a']
>>> _ = table.evict_idle(now_ns=12)
>>> sorted(k.surface for k in table.dropped)
['a', 'b']
"""

from __future__ import annotations

import gc
from array import array
from collections import deque
from collections.abc import Callable
from types import FunctionType, ModuleType
from typing import Any, TypeVar

from swapwatch.detector.detection.keys import KeyTable, SeriesKey

S = TypeVar("S")

# never in the shared objects: pickle does not memoize these, or they may change in place
_SKIPPED = (type, ModuleType, FunctionType, int, float, bool, type(None), dict, list, set,
            bytearray, array, deque)


class TrackedKeyTable(KeyTable[S]):
    """A :class:`KeyTable` that remembers the keys it dropped since :meth:`take_dropped`.

    Only insertion and eviction are overridden (neither is per call for a known key), so the
    per-call path (``get`` + ``touch``) costs what it did.
    """

    def __init__(self, max_keys: int, idle_evict_ns: float) -> None:
        super().__init__(max_keys, idle_evict_ns)
        self.dropped: set[SeriesKey] = set()

    def get_or_create(self, key: SeriesKey, now_ns: int, factory: Callable[[], S]) -> S:
        oldest = next(iter(self), None)
        evicted = self.evicted
        state = super().get_or_create(key, now_ns, factory)
        if self.evicted != evicted and oldest is not None:
            self.dropped.add(oldest)  # the table was full: its idlest key made room
        return state

    def evict_idle(self, now_ns: float) -> list[tuple[SeriesKey, S]]:
        dropped = super().evict_idle(now_ns)
        self.dropped.update(key for key, _ in dropped)
        return dropped

    def take_dropped(self) -> set[SeriesKey]:
        dropped, self.dropped = self.dropped, set()
        return dropped


def shared_objects(make_state: Callable[[], object]) -> list[object]:
    """The objects two fresh key states (``make_state()``) share, in a stable order.

    Stable across processes (sorted by type and ``repr``, not by address or set order), so
    the list a checkpoint stored can be matched, position by position, with the live one.
    Mutable containers are left out: a record must not alias something that changes.
    """
    first, second = _reachable(make_state()), _reachable(make_state())
    common = [obj for ident, obj in first.items() if ident in second]
    return sorted(common, key=lambda obj: (type(obj).__module__, type(obj).__qualname__,
                                           repr(obj)))


def _reachable(root: object) -> dict[int, object]:
    seen: dict[int, object] = {}
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, (type, ModuleType)):
            continue
        seen[id(obj)] = obj
        stack.extend(gc.get_referents(obj))
    seen.pop(id(root), None)
    return {ident: obj for ident, obj in seen.items()
            if not isinstance(obj, _SKIPPED)
            and not (isinstance(obj, (str, tuple)) and not obj)}


def upgrade_table(table: KeyTable[Any]) -> None:
    """A table pickled before tracking existed (a whole detector pickled by an older version)
    becomes a :class:`TrackedKeyTable` in place."""
    if not isinstance(table, TrackedKeyTable):
        table.__class__ = TrackedKeyTable
        table.dropped = set()  # type: ignore[attr-defined]


__all__ = ["TrackedKeyTable", "shared_objects", "upgrade_table"]
