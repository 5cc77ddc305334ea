"""The two clocks of alert delivery.

*Event time* (span timestamps) drives every alerting decision: group_wait, group_interval,
repeat_interval, silences, acknowledgements and the stable-period resolve. The detector pushes
it in with ``AlertDispatcher.advance(now)``; nothing here reads the wall clock for a decision,
so replaying a file gives the same notifications as streaming it.

*Wall time* is for the destination only: retry backoff, rate limits and ``Retry-After`` are
about a real HTTP service, so the courier uses a :class:`WallClock` (monotonic seconds plus an
interruptible sleep). Tests inject :class:`ManualClock`, whose ``sleep`` just moves time on.

>>> clock = ManualClock()
>>> clock.sleep(1.5); clock.sleep(0.5); clock.now()
2.0
>>> clock.slept
[1.5, 0.5]
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic scale."""
        ...

    def sleep(self, seconds: float) -> None: ...


class WallClock:
    """The real monotonic clock; ``interrupt()`` wakes every sleeper (used at shutdown).

    >>> WallClock().now() > 0
    True
    """

    def __init__(self) -> None:
        self._wake = threading.Event()

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._wake.wait(seconds)

    def interrupt(self) -> None:
        self._wake.set()


class ManualClock:
    """A test double: time moves only when someone sleeps or calls :meth:`advance`."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            if seconds > 0:
                self._now += seconds
                self.slept.append(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
