"""Dead letters: a record that cannot be decoded is kept, explained, counted, and passed over.

The original bytes and key go unchanged to the dead-letter topic; headers say why and where
from, so a fix can replay them. The partition never stops for a bad record.

>>> headers = dead_letter_headers(reason="truncated protobuf", stage="decode",
...                               topic="otlp_spans", partition=2, offset=17)
>>> dict(headers)["swapwatch.error.reason"]
b'truncated protobuf'
>>> dict(headers)["swapwatch.source.offset"]
b'17'
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from swapwatch.detector.runtime.metrics import RuntimeMetrics

log = logging.getLogger(__name__)
MAX_REASON_BYTES = 1024


class _Producer(Protocol):
    def send(self, topic: str, value: bytes | None = None, key: bytes | None = None,
             headers: list[tuple[str, bytes]] | None = None) -> Any: ...


def dead_letter_headers(
    reason: str, stage: str, topic: str, partition: int, offset: int
) -> list[tuple[str, bytes]]:
    return [
        ("swapwatch.error.reason", reason.encode("utf-8", "replace")[:MAX_REASON_BYTES]),
        ("swapwatch.error.stage", stage.encode()),
        ("swapwatch.source.topic", topic.encode()),
        ("swapwatch.source.partition", str(partition).encode()),
        ("swapwatch.source.offset", str(offset).encode()),
    ]


class DeadLetters:
    """Writes undecodable records to ``topic``; the caller flushes the producer at checkpoints."""

    def __init__(self, producer: _Producer, topic: str, metrics: RuntimeMetrics) -> None:
        self._producer = producer
        self.topic = topic
        self._metrics = metrics

    def send(self, *, value: bytes | None, key: bytes | None, reason: str, kind: str,
             stage: str, topic: str, partition: int, offset: int) -> None:
        """``kind`` is a short, bounded label for metrics; ``reason`` the full message."""
        self._metrics.decode_errors.labels(stage=stage, reason=kind).inc()
        log.warning("dead letter %s[%d]@%d (%s): %s", topic, partition, offset, stage, reason)
        self._producer.send(self.topic, value=value, key=key,
                            headers=dead_letter_headers(reason, stage, topic, partition, offset))
        self._metrics.dead_letters.inc()
