"""``BlockShift``: the change-point core for one numeric signal of one series.

Why blocks. Per-call LLM measurements are heavy-tailed and bursty, and load moves them in
daily waves. Testing every call against a per-call variance would fire on every busy hour.
Instead calls are grouped into blocks of ``block_size`` and each block is summarised by its
interquartile mean (robust to the tails, close to normal by averaging).

Why a day. The baseline is a ring of ``baseline_entries`` *entries*, each the mean of the
blocks graduated during at least ``entry_s`` seconds of event time (default 48 × 30 min: a
whole daily cycle, for busy and quiet keys alike). Its median is the centre; its spread, minus
what block noise explains, is the daily swing ``σ_day``. Block noise ``σ_block`` is estimated
from successive block differences, which slow daily trends do not inflate.

The test (once per block, O(1) amortised per call, no numpy): for windows of the last
``m`` ∈ {r, 2r, 4r} blocks (``r = recent_blocks``: short windows catch large shifts fast, long
ones small shifts), the window mean is farther from the centre than both
``threshold · sqrt(σ_block²/m + var(centre)) + 2 σ_day`` (significance beyond the noise, plus
the daily swing the baseline's own entries show) and ``min_effect`` (the smallest change
worth reporting, in the learner's transformed units), with at least three quarters of the
blocks on that side.

Like river's ``QuantileFilter``, nothing flagged is learned: while shifted, blocks go to an
"after" sample. If it comes back (a transient), the shift is withdrawn and the baseline was
never polluted; if it stays, the owner calls :meth:`rebaseline` to adopt it.

>>> import random
>>> rng = random.Random(7)
>>> test = BlockShift(block_size=8, recent_blocks=4, warmup_blocks=8, threshold=4.0,
...                   min_effect=0.1, entry_s=0.0)
>>> for i in range(400):
...     _ = test.update(rng.gauss(0.0, 0.3), t_ns=i, index=i)
>>> test.shifted
False
>>> events = [test.update(rng.gauss(0.5, 0.3), t_ns=i, index=i) for i in range(400, 480)]
>>> test.shifted, SHIFTED in events, 392 <= test.shift_started_index <= 416
(True, True, True)
>>> 0.4 < test.shift_size() < 0.7
True
>>> test.rebaseline(); test.shifted
False
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

NO_EVENT = 0
SHIFTED = 1
WITHDRAWN = 2

_MAD_TO_SD = 1.4826
_MEAN_ABS_TO_SD = 1.2533
_NOISE_MEMORY = 64.0  # blocks the block-noise estimate remembers
_DAY_MARGIN = 2.0  # daily swing allowed, in σ_day (a sinusoid's peak is 1.41 σ)


def _median(values: list[float]) -> float:
    s = sorted(values)
    n = len(s)
    mid = n // 2
    return s[mid] if n % 2 else 0.5 * (s[mid - 1] + s[mid])


def interquartile_mean(values: Sequence[float]) -> float:
    """Mean of the middle half (all values when there are fewer than four).

    >>> interquartile_mean([1.0, 2.0, 3.0, 100.0])
    2.5
    """
    n = len(values)
    if n < 4:
        return sum(values) / n
    s = sorted(values)
    lo, hi = n // 4, n - n // 4
    return sum(s[lo:hi]) / (hi - lo)


def change_point(devs: list[float], direction: int) -> int:
    """Where a mean shift most likely began in ``devs`` (deviations from the old mean).

    The split ``k`` maximising ``direction · sum(devs[k:]) / sqrt(len(devs) - k)``: the
    likelihood-ratio estimate of a step away from a known mean.

    >>> change_point([0.1, -0.2, 0.0, 1.1, 0.9, 1.0], 1)
    3
    """
    best_k, best = len(devs) - 1, -math.inf
    tail = 0.0
    for k in range(len(devs) - 1, -1, -1):
        tail += devs[k] * direction
        score = tail / math.sqrt(len(devs) - k)
        if score > best:
            best_k, best = k, score
    return best_k


@dataclass(slots=True)
class _Shift:
    """A flagged shift not yet adopted: where it began and the blocks seen since."""

    started_ns: int
    started_index: int
    detected_index: int
    direction: int  # +1 up, -1 down
    before_center: float  # the baseline centre it is measured against
    flag_threshold: float  # the deviation that flagged it (half of it withdraws it)
    after: array[float]  # block statistics since it began (bounded)


@dataclass(frozen=True, slots=True)
class BlockShiftParams:
    """Hyperparameters of a :class:`BlockShift`, shared by every learner configured alike.

    A detector holds one ``BlockShift`` per numeric signal per series key (100k keys: 700k
    of them); keeping the hyperparameters in one shared object instead of copying them into
    each is a quarter of a learner's memory.
    """

    block_size: int
    recent_blocks: int
    warmup_blocks: int
    threshold: float
    min_effect: float
    baseline_entries: int
    entry_ns: float
    windows: tuple[int, ...]  # windows of recent blocks tested, short to long

    @property
    def longest(self) -> int:
        return self.windows[-1]


@lru_cache(maxsize=256)
def block_shift_params(block_size: int, recent_blocks: int, warmup_blocks: int,
                       threshold: float, min_effect: float, baseline_entries: int,
                       entry_s: float) -> BlockShiftParams:
    """The shared :class:`BlockShiftParams` for these values (one object per distinct set)."""
    windows = tuple(sorted({recent_blocks, 2 * recent_blocks, 4 * recent_blocks}))
    return BlockShiftParams(block_size, recent_blocks, warmup_blocks, threshold, min_effect,
                            baseline_entries, entry_s * 1e9, windows)


class BlockShift:
    """Online shift test of one transformed numeric stream (see the module docstring).

    Memory: a detector holds one per numeric signal per key, so the state is slotted arrays.
    The block being filled and the baseline ring hold 32-bit floats: seven significant
    digits of a log-scale value, far finer than the smallest effect tested (~0.1).
    """

    __slots__ = ("_block", "_block_start_index", "_block_start_ns", "_center", "_day_sd",
                 "_entry_blocks", "_entry_start_ns", "_entry_sum", "_graduated", "_last_block",
                 "_noise_dev", "_recent", "_recent_at", "_ring", "_ring_blocks", "_ring_pos",
                 "_shift", "params")

    def __init__(
        self,
        block_size: int = 16,
        recent_blocks: int = 4,
        warmup_blocks: int = 16,
        threshold: float = 4.0,
        min_effect: float = 0.1,
        baseline_entries: int = 48,
        entry_s: float = 1800.0,
    ) -> None:
        self.params = block_shift_params(block_size, recent_blocks, warmup_blocks, threshold,
                                         min_effect, baseline_entries, entry_s)
        # the block being filled (values of one block, then its statistic is kept)
        self._block = array("f")
        self._block_start_ns = 0
        self._block_start_index = 0
        # blocks under test: statistic, start time, start index (parallel, bounded arrays)
        self._recent = array("f")
        self._recent_at = array("q")  # start time and start index of each, interleaved
        # the baseline: ring of entries (mean of the blocks of >= entry_s) and their sizes
        self._ring = array("f")
        self._ring_blocks = array("H")  # blocks per entry, saturating at 65535
        self._ring_pos = 0
        self._entry_sum = 0.0
        self._entry_blocks = 0
        self._entry_start_ns = 0
        self._graduated = 0
        self._last_block: float | None = None
        self._noise_dev = 0.0  # EW mean |successive block difference|
        self._center = 0.0
        self._day_sd = 0.0
        self._shift: _Shift | None = None  # while a shift is flagged and not yet adopted

    @property
    def min_effect(self) -> float:
        return self.params.min_effect

    # -- the river-style contract -------------------------------------------------------------

    @property
    def shifted(self) -> bool:
        return self._shift is not None

    @property
    def warm(self) -> bool:
        return self._graduated >= self.params.warmup_blocks and len(self._ring) >= 2

    @property
    def shift_started_ns(self) -> int | None:
        return None if self._shift is None else self._shift.started_ns

    @property
    def shift_started_index(self) -> int | None:
        return None if self._shift is None else self._shift.started_index

    @property
    def shift_detected_index(self) -> int | None:
        return None if self._shift is None else self._shift.detected_index

    @property
    def shift_direction(self) -> int:
        """+1 when the value went up, -1 down, 0 when not shifted."""
        return 0 if self._shift is None else self._shift.direction

    def update(self, value: float, t_ns: int, index: int) -> int:
        """Learn one transformed value; returns ``SHIFTED``, ``WITHDRAWN`` or ``NO_EVENT``."""
        block = self._block
        if not block:
            self._block_start_ns = t_ns
            self._block_start_index = index
        block.append(value)
        if len(block) < self.params.block_size:
            return NO_EVENT
        stat = interquartile_mean(block)
        del block[:]
        return self._close_block(stat, index)

    def latest(self) -> tuple[float, int] | None:
        """(last block minus the baseline centre, its start time), once warm."""
        if not self.warm:
            return None
        shift = self._shift
        if shift is not None and shift.after:
            return shift.after[-1] - shift.before_center, self._recent_at[-2]
        if not self._recent:
            return None
        return self._recent[-1] - self._center, self._recent_at[-2]

    def scale(self) -> tuple[float, float]:
        """(σ_block, σ_day) of the baseline, in transformed units.

        σ_block is an upper confidence estimate: a young baseline has seen few block
        differences, and underestimating the noise is what makes a detector cry wolf.
        """
        n = max(self._graduated - 1, 1)
        caution = 1.0 + 1.5 / math.sqrt(n)
        return caution * self._noise_dev * _MEAN_ABS_TO_SD / math.sqrt(2.0), self._day_sd

    def shift_size(self) -> float:
        """Median after-shift block minus the baseline centre (0 when not shifted)."""
        shift = self._shift
        if shift is None or not shift.after:
            return 0.0
        return _median(list(shift.after)) - shift.before_center

    def summary(self) -> dict[str, Any]:
        """Before/after centre in transformed units, and the baseline's spreads."""
        noise, day = self.scale()
        shift = self._shift
        center = self._center if shift is None else shift.before_center
        out: dict[str, Any] = {"before": {"center": center, "block_sd": noise, "day_sd": day}}
        if shift is not None and shift.after:
            out["after"] = {"center": center + self.shift_size(), "blocks": len(shift.after)}
        return out

    def rebaseline(self, offset: float = 0.0) -> None:
        """Adopt what was seen since the shift as the new baseline (it warms up again).

        ``offset`` is added to the adopted statistics: a conditioned learner that moves its
        conditioning centres by the shift passes ``-shift`` so both stay consistent.
        """
        adopted = self._shift.after if self._shift is not None else None
        after = [s + offset for s in (adopted or self._recent)]
        self._ring = array("f", after[-self.params.baseline_entries:])
        self._ring_blocks = array("H", [1] * len(self._ring))
        self._ring_pos = 0
        self._entry_sum, self._entry_blocks = 0.0, 0
        self._graduated = len(self._ring)
        self._last_block = None
        self._clear_recent()
        self._shift = None
        self._refresh_baseline()

    # -- internals ----------------------------------------------------------------------------

    def _clear_recent(self) -> None:
        del self._recent[:], self._recent_at[:]

    def _close_block(self, stat: float, index: int) -> int:
        if self._shift is not None:
            return self._follow_shift(self._shift, stat)
        recent, at = self._recent, self._recent_at
        if len(recent) >= self.params.longest:
            self._graduate(recent[0], at[0])
            recent, at = recent[1:], at[2:]
        # rebuilt at their exact size: appending would over-allocate by half a window, for
        # every numeric learner of every key
        self._recent = recent = recent + array("f", (stat,))
        self._recent_at = at + array("q", (self._block_start_ns, self._block_start_index))
        if not self.warm:
            return NO_EVENT
        center = self._center
        noise_sd, day_sd = self.scale()
        noise_var, day_var = noise_sd * noise_sd, day_sd * day_sd
        # the centre is itself an estimate (a median: π/2 times the variance of a mean)
        center_var = 1.57 * (noise_var / max(sum(self._ring_blocks), 1)
                             + day_var / len(self._ring))
        n = len(recent)
        params = self.params
        for m in params.windows:
            if m > n:
                break
            devs = [recent[i] - center for i in range(n - m, n)]
            mean = sum(devs) / m
            # noise is random (z of it); the daily swing is systematic: a sinusoid never
            # strays more than sqrt(2)·σ_day from its mean, so it is allowed as a margin
            threshold = max(
                params.threshold * math.sqrt(noise_var / m + center_var)
                + _DAY_MARGIN * day_sd,
                params.min_effect,
            )
            if abs(mean) <= threshold:
                continue
            direction = 1 if mean > 0 else -1
            # most blocks on the shifted side: one wild block is not a regime
            agree = sum(1 for d in devs if d * direction > threshold / 2)
            if agree < m - max(1, m // 4):
                continue
            return self._flag(devs, n - m, direction, threshold, index)
        return NO_EVENT

    def _flag(self, devs: list[float], offset: int, direction: int, threshold: float,
              index: int) -> int:
        first = offset + change_point(devs, direction)
        self._shift = _Shift(
            started_ns=self._recent_at[2 * first], started_index=self._recent_at[2 * first + 1],
            detected_index=index, direction=direction, before_center=self._center,
            flag_threshold=threshold, after=array("d", self._recent[first:]),
        )
        return SHIFTED

    def _follow_shift(self, shift: _Shift, stat: float) -> int:
        after = shift.after
        after.append(stat)
        if len(after) > 4 * self.params.longest:
            del after[0]
        # a transient (a provider incident) is let go after a few normal blocks
        m = max(2, self.params.recent_blocks // 2)
        if len(after) >= m:
            back = sum(after[-m:]) / m - shift.before_center
            if back * shift.direction < shift.flag_threshold / 2:
                # a transient: forget it, the baseline never learned from it
                self._shift = None
                self._clear_recent()
                return WITHDRAWN
        return NO_EVENT

    def _graduate(self, stat: float, start_ns: int) -> None:
        if self._last_block is not None:
            diff = abs(stat - self._last_block)
            memory = min(self._graduated, _NOISE_MEMORY)
            self._noise_dev += (diff - self._noise_dev) / max(memory, 1.0)
        self._last_block = stat
        self._graduated += 1
        if self._entry_blocks == 0:
            self._entry_start_ns = start_ns
        self._entry_sum += stat
        self._entry_blocks += 1
        if start_ns - self._entry_start_ns < self.params.entry_ns and len(self._ring) >= 2:
            return
        entry = self._entry_sum / self._entry_blocks
        entries = self.params.baseline_entries
        if len(self._ring) < entries:
            self._ring.append(entry)
            self._ring_blocks.append(min(self._entry_blocks, 0xFFFF))
        else:
            self._ring[self._ring_pos] = entry
            self._ring_blocks[self._ring_pos] = min(self._entry_blocks, 0xFFFF)
            self._ring_pos = (self._ring_pos + 1) % entries
        self._entry_sum, self._entry_blocks = 0.0, 0
        self._refresh_baseline()

    def _refresh_baseline(self) -> None:
        values = list(self._ring)
        if not values:
            self._center = self._day_sd = 0.0
            return
        self._center = _median(values)
        if len(values) < 3:
            self._day_sd = 0.0
            return
        spread = _MAD_TO_SD * _median([abs(v - self._center) for v in values])
        noise_sd = self.scale()[0]
        blocks_per_entry = sum(self._ring_blocks) / len(self._ring_blocks)
        if blocks_per_entry < 2.0:
            # entries of single blocks (a quiet series): a daily swing cannot be told apart
            # from block noise, which the test already accounts for
            self._day_sd = 0.0
            return
        explained = noise_sd * noise_sd / blocks_per_entry
        # a spread this close to what noise explains is no evidence of a daily swing: take
        # off one standard error of the (MAD-based) variance estimate
        doubt = 1.65 * math.sqrt(2.0 / (len(values) - 1))
        self._day_sd = math.sqrt(max(spread * spread * (1.0 - doubt) - explained, 0.0))


def log_or_none(x: float | None) -> float | None:
    """Natural log of a positive number, else ``None``.

    >>> log_or_none(math.e), log_or_none(0.0)
    (1.0, None)
    """
    if x is None or not x > 0 or x == math.inf:
        return None
    return math.log(x)
