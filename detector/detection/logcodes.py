"""Positive quantities (speeds, lengths) as one-byte log-scale codes, and histograms of them.

A code is a 5%-wide bin on a log scale (code 1 is e^-1 ≈ 0.37, code 255 ≈ 120,000; 0 means
absent), so a median read from a histogram of codes is exact to ±2.5%, and histograms merge
and split without loss. The regime ledger and the divergence monitor keep their per-call
history this way: a byte a value.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable

_CODES_PER_E = 20.0  # log-scale codes: e^(1/20) = 5% bins
_CODE_OFFSET = 1.0  # code 1 is e^-1 ≈ 0.37; code 255 is ≈ 120,000
# lower edges of codes 1..255 (a binary search is cheaper per call than a logarithm)
_EDGES = (5e-324, *(math.exp(k / _CODES_PER_E - _CODE_OFFSET) for k in range(1, 255)))
_SMALL_COUNT_CODES = bytes(bisect_right(_EDGES, n) for n in range(4096))  # token counts


def log_code(x: float | int | None) -> int:
    """A positive quantity as a one-byte log-scale code (0 = absent); 5% wide bins.

    >>> [log_code(v) for v in (None, 0, 1, 50.0, 10**9)]
    [0, 0, 21, 99, 255]
    >>> round(code_value(log_code(50.0)), 1)  # the bin's geometric centre: within 2.5%
    50.7
    """
    if x is None:
        return 0
    if type(x) is int and 0 <= x < 4096:
        return _SMALL_COUNT_CODES[x]
    return bisect_right(_EDGES, x)


def log_codes(values: Iterable[float | int | None]) -> list[int]:
    """:func:`log_code` of many values (the per-call hot path: one comprehension)."""
    edges, small = _EDGES, _SMALL_COUNT_CODES
    return [0 if x is None else small[x] if type(x) is int and 0 <= x < 4096
            else bisect_right(edges, x) for x in values]


def code_value(code: int) -> float:
    """The value a :func:`log_code` stands for (the geometric centre of its bin)."""
    return math.exp((code - 0.5) / _CODES_PER_E - _CODE_OFFSET)


def median_code(histogram: Iterable[int], first: int = 1) -> int | None:
    """The median code of a histogram indexed by code (code 0, absent, is ignored; with
    ``first=0`` index 0 counts too, for a histogram that starts at another code).

    >>> median_code([5, 1, 0, 3, 1])
    3
    """
    counts = list(histogram)
    total = sum(counts[first:])
    if not total:
        return None
    half, seen = (total + 1) // 2, 0
    for code in range(first, len(counts)):
        seen += counts[code]
        if seen >= half:
            return code
    return None  # pragma: no cover - unreachable


class CodeHistogram:
    """Counts by log code (:func:`log_code`) over the codes seen so far, ``lo`` upwards.

    A regime's speeds and lengths span a few dozen of the 255 codes: a histogram that covers
    only those is a quarter of a full one. Counts are 16-bit until one would overflow.
    """

    __slots__ = ("counts", "lo")

    def __init__(self, lo: int = 0, counts: array[int] | None = None) -> None:
        self.lo = lo
        self.counts = array("H") if counts is None else counts

    def add(self, codes: Iterable[int]) -> None:
        for code, n in Counter(codes).items():
            if code == 0:  # absent: not part of any median
                continue
            self._cover(code)
            i = code - self.lo
            count = self.counts[i] + n
            if count > 0xFFFF and self.counts.typecode == "H":
                self.counts = array("I", self.counts)
            self.counts[i] = count

    def median(self) -> int | None:
        """The median code (as :func:`median_code` of the full histogram)."""
        found = median_code(self.counts, first=0)
        return None if found is None else self.lo + found

    def copy(self) -> CodeHistogram:
        return CodeHistogram(self.lo, array(self.counts.typecode, self.counts))

    def _cover(self, code: int) -> None:
        counts = self.counts
        if not counts:
            self.lo = code
            counts.append(0)
        elif code < self.lo:
            self.counts = array(counts.typecode, [0]) * (self.lo - code) + counts
            self.lo = code
        elif code >= self.lo + len(counts):
            counts.extend([0] * (code - self.lo - len(counts) + 1))
