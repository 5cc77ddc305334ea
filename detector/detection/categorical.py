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
from collections import deque
from collections.abc import Mapping
from typing import Any

from swapwatch.detector.detection.numeric import NO_EVENT, SHIFTED, WITHDRAWN

OTHER = "other"


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


class ShareShift:
    """Online test of a categorical stream's mix (see the module docstring)."""

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
        self.block_size = block_size
        self.recent_blocks = recent_blocks
        self.warmup_calls = warmup_calls
        self.half_life_blocks = half_life_blocks
        self.min_total_variation = min_total_variation
        self.threshold = threshold
        self.new_value_share = new_value_share
        self.new_value_min_count = new_value_min_count
        self.max_values = max_values
        self._decay = 0.5 ** (1.0 / half_life_blocks)
        self._block: dict[str, int] = {}
        self._block_n = 0
        self._block_start = (0, 0)
        self._recent: deque[tuple[dict[str, int], int, int]] = deque()
        self._base: dict[str, float] = {}
        self._base_seen = 0  # calls ever learned into this baseline (for warm-up)
        self._after: dict[str, int] = {}
        self._shifted = False
        self._started_ns: int | None = None
        self._started_index: int | None = None
        self._detected_index: int | None = None
        self._before: dict[str, float] = {}
        self._reason = ""

    @property
    def shifted(self) -> bool:
        return self._shifted

    @property
    def warm(self) -> bool:
        return self._base_seen >= self.warmup_calls

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
            self._block_start = (t_ns, index)
        self._block[value] = self._block.get(value, 0) + 1
        self._block_n += 1
        if self._block_n < self.block_size:
            return NO_EVENT
        block, self._block, self._block_n = self._block, {}, 0
        return self._close_block(block, index)

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
        self._recent.clear()
        self._after = {}
        self._shifted = False

    # -- internals ----------------------------------------------------------------------------

    def _window(self) -> tuple[dict[str, int], int]:
        counts: dict[str, int] = {}
        for block, _, _ in self._recent:
            for k, v in block.items():
                counts[k] = counts.get(k, 0) + v
        return counts, sum(counts.values())

    def _close_block(self, block: dict[str, int], index: int) -> int:
        self._recent.append((block, *self._block_start))
        if self._shifted:
            for k, v in block.items():
                self._after[k] = self._after.get(k, 0) + v
            if len(self._after) > 4 * self.max_values:
                self._after = _fold(self._after, self.max_values)
        if len(self._recent) > self.recent_blocks:
            graduated = self._recent.popleft()[0]
            if not self._shifted:
                self._learn(graduated)
        if not self.warm or len(self._recent) < self.recent_blocks:
            return NO_EVENT
        counts, n = self._window()
        reason = self._test(counts, n)
        if self._shifted:
            if reason is None and not self._strayed(counts, n):
                self._shifted = False
                self._after = {}
                return WITHDRAWN
            return NO_EVENT
        if reason is None:
            return NO_EVENT
        start = self._start_block()
        _, self._started_ns, self._started_index = self._recent[start]
        self._detected_index = index
        self._before = _shares(self._base)
        self._after = {}
        for blk, _, _ in list(self._recent)[start:]:
            for k, v in blk.items():
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
            if new and c >= self.new_value_min_count and c / n >= self.new_value_share:
                return f"new value {value!r} at {c / n:.0%}"
        tv, z, largest = compare_shares(self._base, base_n, dict(counts), n)
        if tv >= self.min_total_variation and z >= self.threshold:
            return f"mix moved by {tv:.0%} (largest: {largest!r})"
        return None

    def _strayed(self, counts: dict[str, int], n: int) -> bool:
        """Still away from the baseline by half the effect (hysteresis for withdrawal)."""
        base_n = sum(self._base.values())
        tv, _, _ = compare_shares(self._base, base_n, dict(counts), n)
        if tv >= self.min_total_variation / 2:
            return True
        return any(self._base.get(v, 0.0) <= 0 and c >= self.new_value_min_count
                   for v, c in counts.items())

    def _start_block(self) -> int:
        base = _shares(self._base)
        start = len(self._recent) - 1
        while start > 0:
            block = self._recent[start - 1][0]
            total = sum(block.values())
            tv = 0.5 * sum(abs(block.get(k, 0) / total - base.get(k, 0.0))
                           for k in set(block) | set(base))
            if tv < self.min_total_variation / 2:
                break
            start -= 1
        return start

    def _learn(self, block: dict[str, int]) -> None:
        decay = self._decay
        for k in self._base:
            self._base[k] *= decay
        for k, v in block.items():
            key = k if (k in self._base or len(self._base) < self.max_values) else OTHER
            self._base[key] = self._base.get(key, 0.0) + v
        self._base_seen += sum(block.values())
        if len(self._base) > self.max_values:
            self._base = {k: float(v) for k, v in _fold(self._base, self.max_values).items()}


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
