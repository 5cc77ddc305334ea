"""``IdentityWatch``: served model outside what the requested identifier may resolve to.

Immediate (the first mismatching call fires), snapshot-aware through
:func:`swapwatch.detector.ingest.identity.is_expected`, one firing alert per episode; the
episode resolves after ``resolve_after_calls`` expected calls *and* ``resolve_after_s`` of
event time without a mismatch.

>>> watch = IdentityWatch(resolve_after_calls=2, resolve_after_s=0)
>>> watch.observe("gpt-4o", "gpt-4o-2024-08-06", t_ns=1, index=0)
>>> watch.observe("gpt-4o", "gpt-4o-mini-2024-07-18", t_ns=2, index=1)
'fire'
>>> watch.observe("gpt-4o", "gpt-4o-mini-2024-07-18", t_ns=3, index=2)  # same episode
>>> [watch.observe("gpt-4o", "gpt-4o", t_ns=t, index=t) for t in (4, 5)]
[None, 'resolve']
"""

from __future__ import annotations

from typing import Any, Literal

from swapwatch.detector.ingest.identity import is_expected as _expected


class IdentityWatch:
    """Per-key identity episode state (see the module docstring)."""

    __slots__ = ("_calls", "_firing", "_first_bad_index", "_first_bad_ns", "_good_run",
                 "_last_bad_ns", "_longest_run", "_served", "resolve_after_calls",
                 "resolve_after_s")

    def __init__(self, resolve_after_calls: int = 200, resolve_after_s: float = 3600.0) -> None:
        self.resolve_after_calls = resolve_after_calls
        self.resolve_after_s = resolve_after_s
        self._firing = False
        self._good_run = 0
        self._longest_run = 0  # longest run of expected calls between mismatches (episode)
        self._last_bad_ns = 0
        self._first_bad_ns = 0
        self._first_bad_index = 0
        self._served: dict[str, int] = {}
        self._calls = 0

    @property
    def firing(self) -> bool:
        return self._firing

    def observe(
        self, request_model: str | None, served_model: str | None, t_ns: int, index: int
    ) -> Literal["fire", "resolve"] | None:
        if not request_model or not served_model:
            return None
        if self._firing:
            self._calls += 1
        if not _expected(request_model, served_model):
            if self._firing and self._good_run > self._longest_run:
                self._longest_run = self._good_run
            self._good_run = 0
            self._last_bad_ns = max(self._last_bad_ns, t_ns)
            if len(self._served) < 16 or served_model in self._served:
                self._served[served_model] = self._served.get(served_model, 0) + 1
            if not self._firing:
                self._firing = True
                self._longest_run = 0
                self._first_bad_ns, self._first_bad_index = t_ns, index
                self._calls = 1
                return "fire"
            return None
        if not self._firing:
            return None
        self._good_run += 1
        quiet_ns = t_ns - self._last_bad_ns
        # a sporadic failover (5% of calls) leaves long gaps: wait well beyond the longest
        needed = max(self.resolve_after_calls, 4 * self._longest_run)
        if self._good_run >= needed and quiet_ns >= self.resolve_after_s * 1e9:
            self._firing = False
            self._served = {}
            return "resolve"
        return None

    def evidence(self) -> dict[str, Any]:
        bad = sum(self._served.values())
        return {
            "unexpected_served_models": dict(sorted(self._served.items())),
            "mismatched_calls": bad,
            "calls_in_episode": self._calls,
            "first_mismatch_index": self._first_bad_index,
        }

    @property
    def first_mismatch_ns(self) -> int:
        return self._first_bad_ns

    @property
    def last_mismatch_ns(self) -> int:
        return self._last_bad_ns
