"""``DedupWindow``: the most recent call identities of a partition, to drop redelivered calls.

Kafka delivers at least once: after a restart the calls since the last committed offset come
again, and a producer retry can write a call twice. The window remembers the last
``capacity`` identities and is checkpointed with its partition's state.
"""

from __future__ import annotations

from collections import deque
from operator import itemgetter
from typing import Any


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
    >>> import pickle
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
