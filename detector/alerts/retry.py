"""The retry stage's courier: delivers one destination's outbox, paced, with bounded backoff.

This is the only place that retries. It runs in *wall time* (an injected :class:`Clock`),
because backoff, rate limits and ``Retry-After`` concern the real destination, not the spans.

* FIFO per destination, so a resolve never overtakes its trigger.
* A token bucket paces requests; a 429 holds the bucket for ``Retry-After``: queue, never drop.
* Recoverable errors (429, 5xx, network) back off exponentially (jitter injectable) up to
  ``max_attempts``; then the destination is *parked* for ``park_for``: the message stays in
  the (persisted) outbox and is tried again after the pause or after a restart.
* Permanent errors (400, 403, 404, 410) dead-letter the message, logged with its alerts.

>>> from swapwatch.detector.alerts.config import RetryConfig
>>> cfg = RetryConfig(initial_backoff=1, max_backoff=10)
>>> [backoff_delay(n, cfg) for n in (1, 2, 3, 4, 5)]
[1.0, 2.0, 4.0, 8.0, 10.0]
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from swapwatch.detector.alerts.config import RetryConfig
from swapwatch.detector.alerts.notification import (
    Notifier,
    PermanentError,
    RecoverableError,
)
from swapwatch.detector.alerts.outbox import Outbox, OutboxItem
from swapwatch.detector.alerts.ratelimit import TokenBucket
from swapwatch.detector.alerts.timing import Clock

log = logging.getLogger(__name__)

Jitter = Callable[[float], float]
DrainOutcome = Literal["idle", "parked", "stopped"]


def backoff_delay(failures: int, cfg: RetryConfig, jitter: Jitter | None = None) -> float:
    """Seconds to wait after the ``failures``-th consecutive failure (1-based)."""
    base = cfg.initial_backoff.total_seconds() * cfg.multiplier ** (failures - 1)
    delay = min(base, cfg.max_backoff.total_seconds())
    return jitter(delay) if jitter else delay


def full_jitter(rng: random.Random) -> Jitter:
    """Between half and all of the delay, so retrying detectors do not stampede."""
    return lambda delay: delay * (0.5 + 0.5 * rng.random())


@dataclass
class CourierStats:
    delivered: int = 0
    failed_attempts: int = 0
    rate_limited: int = 0
    dead_lettered: int = 0
    parked: int = 0
    send_times: list[float] = field(default_factory=list)  # wall clock of each request


class Courier:
    """Delivers the outbox of one destination; :meth:`drain` inline or :meth:`start` a thread."""

    def __init__(self, notifier: Notifier, outbox: Outbox, bucket: TokenBucket, clock: Clock,
                 retry: RetryConfig, jitter: Jitter | None = None) -> None:
        self.notifier = notifier
        self.outbox = outbox
        self.bucket = bucket
        self.clock = clock
        self.retry = retry
        self.jitter = jitter
        self.stats = CourierStats()
        self._failures = 0  # consecutive failures of the head message
        self._retry_at = float("-inf")
        self._parked_until = float("-inf")
        self._stopping = False
        self._cond = threading.Condition()
        self._kicked = False
        self._idle = True
        self._thread: threading.Thread | None = None

    @property
    def destination(self) -> str:
        return self.notifier.name

    def is_parked(self) -> bool:
        return self.clock.now() < self._parked_until

    def drain(self) -> DrainOutcome:
        """Deliver until the outbox is empty, the destination is parked, or we are stopping."""
        while not self._stopping:
            item = self.outbox.head(self.destination)
            if item is None:
                return "idle"
            if self.is_parked():
                return "parked"
            wait = max(self.bucket.wait_time(), self._retry_at - self.clock.now())
            if wait > 0:
                self.clock.sleep(wait)
                continue
            self.bucket.take()
            self._attempt(item)
        return "stopped"

    def _attempt(self, item: OutboxItem) -> None:
        self.stats.send_times.append(self.clock.now())
        try:
            error = self.notifier.notify(item.message)
        except Exception as exc:  # a notifier must not raise; if one does, retry it
            error = RecoverableError(f"{type(exc).__name__}: {exc}")
        if error is None:
            self.outbox.delivered(item)
            self.stats.delivered += 1
            self._failures, self._retry_at = 0, float("-inf")
        elif isinstance(error, PermanentError):
            log.error("alert notification refused by %s, not retried: %s; alerts=%s body=%s",
                      self.destination, error.reason, list(item.message.dedup_keys),
                      item.message.body)
            self.outbox.dead_letter(item, error.reason)
            self.stats.dead_lettered += 1
            self._failures, self._retry_at = 0, float("-inf")
        else:
            self._recoverable(item, error)

    def _recoverable(self, item: OutboxItem, error: RecoverableError) -> None:
        self.outbox.record_attempt(item, error.reason)
        self.stats.failed_attempts += 1
        self._failures += 1
        if error.retry_after is not None:
            self.stats.rate_limited += 1
            self.bucket.hold(error.retry_after)
        if self._failures >= self.retry.max_attempts:
            self.stats.parked += 1
            log.warning("%s unreachable after %d attempts (%s); %d message(s) kept in the outbox, "
                        "next try in %s", self.destination, self._failures, error.reason,
                        self.outbox.pending(self.destination), self.retry.park_for)
            self._parked_until = self.clock.now() + self.retry.park_for.total_seconds()
            self._failures, self._retry_at = 0, float("-inf")
            return
        delay = (error.retry_after if error.retry_after is not None
                 else backoff_delay(self._failures, self.retry, self.jitter))
        self._retry_at = self.clock.now() + delay
        log.info("%s: %s; retry %d in %.1fs", self.destination, error.reason,
                 self._failures, delay)

    # --- background mode -------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"courier-{self.destination}",
                                        daemon=True)
        self._thread.start()

    def kick(self) -> None:
        """New messages are in the outbox."""
        with self._cond:
            self._kicked, self._idle = True, False
            self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Block until the outbox is delivered or parked; ``False`` on timeout."""
        if self._thread is None:
            self.drain()
            return True
        self.kick()
        with self._cond:
            return self._cond.wait_for(lambda: self._idle or self._stopping, timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._kicked or self._stopping):
                    parked_for = self._parked_until - self.clock.now()
                    if self.outbox.pending(self.destination) and parked_for <= 0:
                        break
                    self._cond.wait(timeout=parked_for if parked_for > 0 else None)
                if self._stopping:
                    return
                self._kicked = False
            try:
                self.drain()
            except Exception:  # keep the courier alive; the message stays in the outbox
                log.exception("courier %s failed", self.destination)
            with self._cond:
                if not self._kicked:
                    self._idle = True
                    self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        interrupt = getattr(self.clock, "interrupt", None)
        if interrupt is not None:
            interrupt()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
