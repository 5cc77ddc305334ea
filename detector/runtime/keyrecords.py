"""Pickling one series key's state at a time without copying what all keys share.

A key's learners refer to objects every key shares: hyperparameters (one object per distinct
setting), the ledger configuration, signal names. A whole-detector pickle writes each once and
restores one copy. Pickled one key per record, each record would write and restore its own
copies (~2-3 KB a key), so :class:`SharedMemo` numbers the shared objects once and lets every
record refer to them by number: the pickler's memo is seeded with them, and the unpickler gets
the same numbering from a short preamble that loads them through ``persistent_load``. (The
preamble, because CPython 3.11's ``Unpickler.memo`` setter drops what it is given.)

>>> shared = SharedMemo(["a name every key holds", ("a", "shared", "tuple")])
>>> record = shared.dumps({"name": shared.objects[0], "windows": shared.objects[1], "n": 3})
>>> back = shared.loads(record)
>>> back["name"] is shared.objects[0] and back["windows"] is shared.objects[1], back["n"]
(True, 3)
>>> len(record) < len(pickle.dumps({"name": shared.objects[0], "windows": shared.objects[1],
...                                 "n": 3}, protocol=pickle.HIGHEST_PROTOCOL))
True
"""

from __future__ import annotations

import io
import pickle
import struct
from collections.abc import Sequence
from typing import Any

_BININT, _BINPERSID, _MEMOIZE, _POP, _NONE, _STOP = b"J", b"Q", b"\x94", b"0", b"N", b"."


class SharedMemo:
    """Pickles and unpickles records that refer to ``objects`` by position."""

    def __init__(self, objects: Sequence[object]) -> None:
        self.objects = list(objects)
        self._memo = {id(obj): (i, obj) for i, obj in enumerate(self.objects)}
        # memo slot i <- persistent id i, for every i, then a None to return: protocol 4
        self._preamble = b"".join([
            b"\x80\x04",
            *(_BININT + struct.pack("<i", i) + _BINPERSID + _MEMOIZE + _POP
              for i in range(len(self.objects))),
            _NONE, _STOP,
        ])

    def dumps(self, obj: Any) -> bytes:
        out = io.BytesIO()
        pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.memo = self._memo  # copied: the next record starts from the same numbering
        pickler.dump(obj)
        return out.getvalue()

    def loads(self, data: bytes) -> Any:
        unpickler = pickle.Unpickler(io.BytesIO(self._preamble + data))
        unpickler.persistent_load = self.objects.__getitem__  # type: ignore[assignment]
        unpickler.load()  # the preamble: fills the memo
        return unpickler.load()


def matched(stored: Sequence[object], live: Sequence[object]) -> list[object]:
    """The shared objects a checkpoint stored, each replaced by the live process's equal one
    where there is one at its position (then restored keys share the objects new keys get).

    >>> live = ["x", (1, 2)]
    >>> both = matched(["x", (1, 2), "z"], live)
    >>> both[1] is live[1], both[2]
    (True, 'z')
    """
    out = list(stored)
    for i, obj in enumerate(stored[:len(live)]):
        other = live[i]
        try:
            same = type(obj) is type(other) and bool(obj == other)
        except Exception:  # an __eq__ that cannot answer: keep the stored object
            same = False
        if same:
            out[i] = other
    return out
