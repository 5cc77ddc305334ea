"""What a destination receives, and how it reports failure (Alertmanager's notifier contract).

A group flush that needs notifying becomes one :class:`Notification` per destination. The
destination's notifier *renders* it into request bodies (:class:`OutboundMessage`), which are
persisted in the outbox before any network I/O, then *sends* each body:
``notify(message) -> RecoverableError | PermanentError | None``. Only the retry stage's courier
retries; notifiers never loop.

>>> classify_http(202, "") is None
True
>>> classify_http(429, "rate limited", retry_after=2.0)
RecoverableError(reason='HTTP 429: rate limited', retry_after=2.0)
>>> classify_http(400, '{"status":"invalid event"}')
PermanentError(reason='HTTP 400: {"status":"invalid event"}')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from swapwatch.detector.alerts.alert import Alert


@dataclass(frozen=True)
class RecoverableError:
    """Try again later (429, 5xx, timeouts, connection refused)."""

    reason: str
    retry_after: float | None = None


@dataclass(frozen=True)
class PermanentError:
    """Never retry (400, 403, 404, 410): the message is dead-lettered with its alerts."""

    reason: str


DeliveryError = RecoverableError | PermanentError


def classify_http(status: int, body: str, retry_after: float | None = None) -> DeliveryError | None:
    """Map an HTTP answer to the delivery contract."""
    if 200 <= status < 300:
        return None
    reason = f"HTTP {status}: {body[:500]}"
    if status == 429 or status == 408 or status >= 500:
        return RecoverableError(reason, retry_after)
    return PermanentError(reason)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (HTTP-dates are rare here and treated as absent).

    >>> parse_retry_after("3"), parse_retry_after(None), parse_retry_after("soon")
    (3.0, None, None)
    """
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


@dataclass(frozen=True)
class Notification:
    """One group, as one destination should hear about it at one flush (event time ``now``).

    ``new_firing`` were never announced to this destination; ``new_resolved`` were announced
    as firing and have resolved since. ``reason`` says why the flush notifies (for logs).
    """

    destination: str
    group_key: str
    group_labels: dict[str, str]
    firing: tuple[Alert, ...]
    resolved: tuple[Alert, ...]
    new_firing: tuple[Alert, ...]
    new_resolved: tuple[Alert, ...]
    reason: str
    now: Any  # datetime; Any keeps the dataclass free of pydantic


@dataclass(frozen=True)
class OutboundMessage:
    """One HTTP request body (or file line) to deliver; persisted as JSON in the outbox."""

    destination: str
    body: dict[str, Any]
    dedup_keys: tuple[str, ...] = field(default_factory=tuple)


class Notifier(Protocol):
    """A destination. ``render`` is pure; ``notify`` does one request and never raises."""

    name: str

    def render(self, notification: Notification) -> list[OutboundMessage]: ...

    def notify(self, message: OutboundMessage) -> DeliveryError | None: ...

    def close(self) -> None: ...
