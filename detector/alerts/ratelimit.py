"""A token bucket per destination: pace requests by waiting, never by dropping.

Time comes from an injected wall clock (see :mod:`timing`). A ``Retry-After`` answer empties
the bucket until the server's deadline (:meth:`TokenBucket.hold`).

>>> from swapwatch.detector.alerts.timing import ManualClock
>>> clock = ManualClock()
>>> bucket = TokenBucket(rate_per_s=1.0, burst=1, clock=clock)
>>> bucket.wait_time()
0.0
>>> bucket.take(); bucket.wait_time()
1.0
>>> clock.sleep(0.25); bucket.wait_time()
0.75
>>> bucket.hold(5.0); bucket.wait_time()
5.0
"""

from __future__ import annotations

from swapwatch.detector.alerts.timing import Clock


class TokenBucket:
    def __init__(self, rate_per_s: float, burst: int, clock: Clock) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock.now()
        self._hold_until = float("-inf")

    def _refill(self) -> None:
        now = self._clock.now()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate_per_s)
        self._updated = now

    def wait_time(self) -> float:
        """Seconds until a request may go out (0 when it may go now)."""
        self._refill()
        held = max(0.0, self._hold_until - self._clock.now())
        missing = max(0.0, 1.0 - self._tokens)
        return max(held, missing / self.rate_per_s)

    def take(self) -> None:
        """Spend one token (call right before the request)."""
        self._refill()
        self._tokens -= 1.0

    def hold(self, seconds: float) -> None:
        """The server asked for a pause (``Retry-After``): nothing goes out before it ends."""
        self._refill()
        self._hold_until = max(self._hold_until, self._clock.now() + seconds)
        self._tokens = min(self._tokens, 0.0)
