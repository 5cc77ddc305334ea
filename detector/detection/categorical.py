"""``ShareShift``: the change-point core for one categorical signal of one series.

Served model, system fingerprint, finish reason and error type are categories whose *mix* is
a trait of the artifact answering. The baseline is a decayed count per value (half-life
``half_life_blocks`` blocks of ``block_size`` calls, at most ``max_values`` values, the rarest
folded into ``"other"``); the recent window is the last ``recent_blocks`` blocks. Once per
block (O(1) amortised per call) the window is compared with the baseline:

* effect: total variation distance between the two share vectors ≥ ``min_total_variation``,
  and significance: the largest two-proportion z ≥ ``threshold``; or
* a never-seen value holds at least ``new_value_share`` of the window and
  ``new_value_min_count`` calls (a new fingerprint, a new served model).

Flagged blocks are not learned; while shifted the window keeps sliding so a transient can be
withdrawn, and :meth:`rebaseline` adopts the new mix.

>>> test = ShareShift(block_size=10, recent_blocks=3, warmup_calls=100)
>>> for i in range(300):
...     _ = test.update("stop" if i % 10 else "length", t_ns=i, index=i)
>>> test.shifted
False
>>> events = [test.update("tool_calls" if i % 2 else "stop", t_ns=i, index=i)
...           for i in range(300, 340)]
>>> test.shifted, SHIFTED in events
(True, True)
>>> sorted(test.summary()["after"]["shares"])
['stop', 'tool_calls']
"""

from __future__ import annotations

import math
import sys
from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from swapwatch.detector.detection.numeric import NO_EVENT, SHIFTED, WITHDRAWN

OTHER = "other"
_MAX_CODES = 64  # value codes of the blocks under test before unused ones are forgotten
_NONE: dict[str, Any] = {}  # the empty counts of every learner that is not shifted


def _shares(counts: Mapping[str, float]) -> dict[str, float]:
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()} if total > 0 else {}


def compare_shares(
    base: dict[str, float], base_n: float, recent: dict[str, float], recent_n: float
) -> tuple[float, float, str | None]:
    """Total variation, the largest two-proportion |z|, and the value behind it.

    >>> tv, z, value = compare_shares({"a": 90, "b": 10}, 100, {"a": 50, "b": 40, "c": 10}, 100)
    >>> round(tv, 2), z > 5, value
    (0.4, True, 'a')
    """
    tv = 0.0
    z_max, z_value = 0.0, None
    for value in sorted(set(base) | set(recent)):
        p_b = base.get(value, 0.0) / base_n
        p_r = recent.get(value, 0.0) / recent_n
        tv += abs(p_r - p_b)
        pooled = (base.get(value, 0.0) + recent.get(value, 0.0)) / (base_n + recent_n)
        # floor keeps a 0-vs-tiny share from dividing by zero
        var = max(pooled * (1 - pooled), 1.0 / (base_n + recent_n)) * (1 / base_n + 1 / recent_n)
        z = abs(p_r - p_b) / math.sqrt(var)
        if z > z_max:
            z_max, z_value = z, value
    return tv / 2, z_max, z_value


@dataclass(frozen=True, slots=True)
class ShareShiftParams:
    """Hyperparameters of a :class:`ShareShift`, one object shared by learners alike."""

    block_size: int
    recent_blocks: int
    warmup_calls: int
    half_life_blocks: float
    min_total_variation: float
    threshold: float
    new_value_share: float
    new_value_min_count: int
    max_values: int
    decay: float  # per block: ``0.5 ** (1 / half_life_blocks)``


@lru_cache(maxsize=256)
def _params(block_size: int, recent_blocks: int, warmup_calls: int, half_life_blocks: float,
            min_total_variation: float, threshold: float, new_value_share: float,
            new_value_min_count: int, max_values: int) -> ShareShiftParams:
    return ShareShiftParams(block_size, recent_blocks, warmup_calls, half_life_blocks,
                            min_total_variation, threshold, new_value_share,
                            new_value_min_count, max_values, 0.5 ** (1.0 / half_life_blocks))


class ShareShift:
    """Online test of a categorical stream's mix (see the module docstring)."""

    __slots__ = ("_after", "_base", "_base_seen", "_before", "_block", "_block_n",
                 "_block_start_index", "_block_start_ns", "_detected_index", "_reason", "_recent",
                 "_recent_at", "_shifted", "_started_index", "_started_ns", "_values", "params")

    def __init__(
        self,
        block_size: int = 32,
        recent_blocks: int = 4,
        warmup_calls: int = 256,
        half_life_blocks: float = 64.0,
        min_total_variation: float = 0.1,
        threshold: float = 5.0,
        new_value_share: float = 0.05,
        new_value_min_count: int = 4,
        max_values: int = 12,
    ) -> None:
        self.params = _params(block_size, recent_blocks, warmup_calls, half_life_blocks,
                              min_total_variation, threshold, new_value_share,
                              new_value_min_count, max_values)
        self._block = array("H")  # counts of the block being filled, by value code
        self._block_n = 0
        self._block_start_ns = 0
        self._block_start_index = 0
        # the blocks under test, oldest first, in one array: per block the number k of its
        # values, then k (value code, count) pairs, codes indexing ``_values`` (a dict per
        # block would be five times the memory); their start times and indices interleaved
        self._recent = array("H")
        self._recent_at = array("q")
        self._values: list[str] = []
        self._base: dict[str, float] = {}
        self._base_seen = 0  # calls ever learned into this baseline (for warm-up)
        # counts since the shift and the shares before it, only while shifted (otherwise the
        # shared empty _NONE: never mutated, as ``_after`` is replaced when a shift starts)
        self._after: dict[str, int] = _NONE
        self._shifted = False
        self._started_ns: int | None = None
        self._started_index: int | None = None
        self._detected_index: int | None = None
        self._before: dict[str, float] = _NONE
        self._reason = ""

    @property
    def shifted(self) -> bool:
        return self._shifted

    @property
    def warm(self) -> bool:
        return self._base_seen >= self.params.warmup_calls

    @property
    def shift_started_ns(self) -> int | None:
        return self._started_ns if self._shifted else None

    @property
    def shift_started_index(self) -> int | None:
        return self._started_index if self._shifted else None

    @property
    def shift_detected_index(self) -> int | None:
        return self._detected_index if self._shifted else None

    def update(self, value: str, t_ns: int, index: int) -> int:
        if self._block_n == 0:
            self._block_start_ns = t_ns
            self._block_start_index = index
        values = self._values
        try:
            code = values.index(value)
        except ValueError:
            code = len(values)
            values.append(sys.intern(value))  # one copy of a model name for all keys
            self._block.append(0)
        self._block[code] += 1
        self._block_n += 1
        if self._block_n < self.params.block_size:
            return NO_EVENT
        block = self._counts(self._block)
        self._push_recent(block, self._block_start_ns, self._block_start_index)
        event = self._close_block(block, index)
        self._block = array("H", bytes(2 * len(self._values)))
        self._block_n = 0
        return event

    def summary(self) -> dict[str, Any]:
        before = self._before if self._shifted else _shares(self._base)
        out: dict[str, Any] = {"before": {"shares": _top(before)}}
        if self._shifted:
            out["after"] = {"shares": _top(_shares(self._after)),
                            "calls": sum(self._after.values())}
            out["reason"] = self._reason
        return out

    def rebaseline(self) -> None:
        counts = dict(self._after) if self._after else self._window()[0]
        self._base = {k: float(v) for k, v in counts.items()}
        self._base_seen = sum(counts.values())
        self._clear_recent()
        self._after = _NONE
        self._before = _NONE
        self._shifted = False

    # -- internals ----------------------------------------------------------------------------

    def _push_recent(self, block: dict[str, int], start_ns: int, start_index: int) -> None:
        values = self._values
        record = [len(block)]
        for value, count in block.items():
            try:
                code = values.index(value)
            except ValueError:
                code = len(values)
                values.append(value)
            record += (code, count)
        # rebuilt at their exact size (appending over-allocates, for every learner of every key)
        self._recent = self._recent + array("H", record)
        self._recent_at = self._recent_at + array("q", (start_ns, start_index))

    def _pop_recent(self) -> dict[str, int]:
        """Remove the oldest block under test; returns its counts."""
        recent, values = self._recent, self._values
        k = recent[0]
        block = {values[recent[1 + 2 * j]]: recent[2 + 2 * j] for j in range(k)}
        self._recent, self._recent_at = recent[1 + 2 * k:], self._recent_at[2:]
        if len(values) > _MAX_CODES:  # forget the values no block under test holds
            blocks, starts = self._blocks(), list(self._recent_at)
            self._clear_recent()
            for i, counts in enumerate(blocks):
                self._push_recent(counts, starts[2 * i], starts[2 * i + 1])
        return block

    def _blocks(self) -> list[dict[str, int]]:
        """The counts of each block under test, oldest first."""
        recent, values = self._recent, self._values
        out, pos = [], 0
        while pos < len(recent):
            k = recent[pos]
            out.append({values[recent[pos + 1 + 2 * j]]: recent[pos + 2 + 2 * j]
                        for j in range(k)})
            pos += 1 + 2 * k
        return out

    def _clear_recent(self) -> None:
        """Forget the blocks under test and their value codes (the block being filled keeps
        its counts, under new codes)."""
        filling = self._counts(self._block)
        del self._recent[:], self._recent_at[:], self._values[:]
        self._values.extend(filling)
        self._block = array("H", filling.values())

    def _window(self) -> tuple[dict[str, int], int]:
        counts: dict[str, int] = {}
        for block in self._blocks():
            for k, v in block.items():
                counts[k] = counts.get(k, 0) + v
        return counts, sum(counts.values())

    def _counts(self, coded: array[int]) -> dict[str, int]:
        values = self._values
        return {values[code]: n for code, n in enumerate(coded) if n}

    def _close_block(self, block: dict[str, int], index: int) -> int:
        if self._shifted:
            for k, v in block.items():
                self._after[k] = self._after.get(k, 0) + v
            if len(self._after) > 4 * self.params.max_values:
                self._after = _fold(self._after, self.params.max_values)
        if len(self._recent_at) > 2 * self.params.recent_blocks:
            graduated = self._pop_recent()
            if not self._shifted:
                self._learn(graduated)
        if not self.warm or len(self._recent_at) < 2 * self.params.recent_blocks:
            return NO_EVENT
        counts, n = self._window()
        reason = self._test(counts, n)
        if self._shifted:
            if reason is None and not self._strayed(counts, n):
                self._shifted = False
                self._after = _NONE
                self._before = _NONE
                return WITHDRAWN
            return NO_EVENT
        if reason is None:
            return NO_EVENT
        blocks = self._blocks()
        start = self._start_block(blocks)
        self._started_ns, self._started_index = self._recent_at[2 * start:2 * start + 2]
        self._detected_index = index
        self._before = _shares(self._base)
        self._after = {}
        for block in blocks[start:]:
            for k, v in block.items():
                self._after[k] = self._after.get(k, 0) + v
        self._reason = reason
        self._shifted = True
        return SHIFTED

    def _test(self, counts: dict[str, int], n: int) -> str | None:
        base_n = sum(self._base.values())
        if base_n <= 0 or n <= 0:
            return None
        for value, c in sorted(counts.items()):
            new = self._base.get(value, 0.0) <= 0 and value != OTHER
            p = self.params
            if new and c >= p.new_value_min_count and c / n >= p.new_value_share:
                return f"new value {value!r} at {c / n:.0%}"
        tv, z, largest = compare_shares(self._base, base_n, dict(counts), n)
        if tv >= self.params.min_total_variation and z >= self.params.threshold:
            return f"mix moved by {tv:.0%} (largest: {largest!r})"
        return None

    def _strayed(self, counts: dict[str, int], n: int) -> bool:
        """Still away from the baseline by half the effect (hysteresis for withdrawal)."""
        base_n = sum(self._base.values())
        tv, _, _ = compare_shares(self._base, base_n, dict(counts), n)
        if tv >= self.params.min_total_variation / 2:
            return True
        return any(self._base.get(v, 0.0) <= 0 and c >= self.params.new_value_min_count
                   for v, c in counts.items())

    def _start_block(self, blocks: list[dict[str, int]]) -> int:
        base = _shares(self._base)
        start = len(blocks) - 1
        while start > 0:
            block = blocks[start - 1]
            total = sum(block.values())
            tv = 0.5 * sum(abs(block.get(k, 0) / total - base.get(k, 0.0))
                           for k in set(block) | set(base))
            if tv < self.params.min_total_variation / 2:
                break
            start -= 1
        return start

    def _learn(self, block: dict[str, int]) -> None:
        decay = self.params.decay
        for k in self._base:
            self._base[k] *= decay
        for k, v in block.items():
            key = k if (k in self._base or len(self._base) < self.params.max_values) else OTHER
            self._base[key] = self._base.get(key, 0.0) + v
        self._base_seen += sum(block.values())
        if len(self._base) > self.params.max_values:
            self._base = {k: float(v) for k, v in _fold(self._base, self.params.max_values).items()}


def _fold(counts: dict[str, Any], keep: int) -> dict[str, Any]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    out = dict(ranked[: keep - 1])
    rest = sum(v for _, v in ranked[keep - 1:])
    if rest:
        out[OTHER] = out.get(OTHER, 0) + rest
    return out


def _top(shares: dict[str, float], n: int = 5) -> dict[str, float]:
    ranked = sorted(shares.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return {k: round(v, 4) for k, v in ranked}
