"""Kafka producing that loses nothing and never buffers without bound.

An export is acknowledged to its OTLP client only after the broker acknowledged every record
(``acks=all``, idempotent producer, retries within ``delivery_timeout_ms``). When the broker is
down or slow, or the bytes awaiting acknowledgement exceed ``max_pending_bytes``, ``publish``
raises :class:`KafkaUnavailable` at once or after ``ack_timeout_s``: the receiver turns that
into the OTLP "retry later" answer, so the client keeps the data instead of the collector.

A refused export may still reach Kafka later (it was already sent when the wait gave up); the
client's retry then produces it twice, and the detector drops the copy by span id.

>>> budget = PendingBudget(limit=100)
>>> budget.try_take(60), budget.try_take(60), budget.pending
(True, False, 60)
>>> budget.give_back(60); budget.pending
0
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError
from swapwatch.collector.config import ProducerConfig
from swapwatch.collector.filter import KafkaRecord

log = logging.getLogger(__name__)


class KafkaUnavailable(RuntimeError):
    """Retryable: Kafka did not acknowledge in time, or the pending buffer is full."""


class KafkaRejected(RuntimeError):
    """Permanent: Kafka refused the records (too large, not authorised); retrying is useless."""


class PendingBudget:
    """Bytes sent but not yet acknowledged, against a fixed limit (thread-safe)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.pending = 0
        self._lock = threading.Lock()

    def try_take(self, size: int) -> bool:
        with self._lock:
            if self.pending + size > self.limit and self.pending > 0:
                return False
            self.pending += size
            return True

    def give_back(self, size: int) -> None:
        with self._lock:
            self.pending -= size


def producer_settings(config: ProducerConfig) -> dict[str, Any]:
    """The kafka-python settings: durable (acks=all, idempotent, retried), bounded in time."""
    return {
        "bootstrap_servers": config.bootstrap_servers,
        "client_id": "swapwatch-collect",
        "acks": "all",
        "enable_idempotence": True,
        "retries": 2**31 - 1,  # bounded by delivery_timeout_ms, as the Java client does
        "max_in_flight_requests_per_connection": 5,
        "delivery_timeout_ms": config.delivery_timeout_ms,
        "request_timeout_ms": config.request_timeout_ms,
        "linger_ms": config.linger_ms,
        "max_block_ms": int(config.ack_timeout_s * 1000),
        "max_request_size": config.max_request_size,
        "compression_type": config.compression_type,
        "bootstrap_timeout_ms": int(config.ack_timeout_s * 1000),
        "reconnect_backoff_max_ms": 2000,
    }


class SpanProducer:
    """Produces keyed OTLP records to one topic and waits for the broker's acknowledgement."""

    def __init__(self, config: ProducerConfig,
                 factory: Callable[..., Any] = KafkaProducer,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._factory = factory
        self._clock = clock
        self._producer: Any = None
        self._lock = threading.Lock()
        self._budget = PendingBudget(config.max_pending_bytes)

    def _client(self) -> Any:
        # Created on first use, so the receiver starts (and answers "retry later") while
        # Kafka is still down.
        with self._lock:
            if self._producer is None:
                try:
                    self._producer = self._factory(**producer_settings(self.config))
                except KafkaError as err:
                    raise KafkaUnavailable(f"Kafka unreachable: {err}") from None
            return self._producer

    def publish(self, records: list[KafkaRecord]) -> None:
        """Produce ``records`` and return once all are acknowledged; raise otherwise."""
        if not records:
            return
        size = sum(len(value) + len(key or b"") for key, value in records)
        if not self._budget.try_take(size):
            raise KafkaUnavailable(
                f"{self._budget.pending} bytes await Kafka's acknowledgement (limit "
                f"{self._budget.limit}); retry later")
        producer = None
        try:
            producer = self._client()
            deadline = self._clock() + self.config.ack_timeout_s
            futures = [producer.send(self.config.topic, value=value, key=key)
                       for key, value in records]
        except KafkaUnavailable:
            self._budget.give_back(size)
            raise
        except KafkaError as err:
            self._budget.give_back(size)
            raise _classify(err) from None
        remaining = len(futures)
        released = threading.Lock()

        def _done(_: object) -> None:
            nonlocal remaining
            with released:
                remaining -= 1
                if remaining == 0:
                    self._budget.give_back(size)

        for future in futures:
            future.add_both(_done)
        for future in futures:
            try:
                future.get(timeout=max(0.0, deadline - self._clock()))
            except KafkaError as err:
                raise _classify(err) from None

    def close(self, timeout_s: float = 10.0) -> None:
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            producer.close(timeout=timeout_s)


def _classify(err: KafkaError) -> Exception:
    if getattr(err, "retriable", False) or type(err).__name__ in {
            "KafkaTimeoutError", "KafkaConnectionError", "NoBrokersAvailable"}:
        return KafkaUnavailable(f"Kafka did not acknowledge: {type(err).__name__}: {err}")
    return KafkaRejected(f"Kafka refused the records: {type(err).__name__}: {err}")
