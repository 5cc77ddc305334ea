"""How ingest reports bad input: an exception for a message, counters for everything else.

A message that cannot be decoded at all raises :class:`MalformedInput` with a short reason;
the caller counts it and dead-letters the bytes. Problems inside a decodable message (one span
with its end before its start, a negative token count, a 10 MB model name) never raise: the
span is rejected or the value sanitised, and :class:`IngestStats` counts why.

>>> stats = IngestStats()
>>> stats.reject("end before start")
>>> stats.sanitise("input_tokens: negative")
>>> stats.rejected_spans["end before start"], stats.sanitised_values["input_tokens: negative"]
(1, 1)
>>> str(MalformedInput("truncated protobuf"))
'truncated protobuf'
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


class MalformedInput(ValueError):
    """The input (one Kafka message or one JSON line) cannot be decoded; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_MAX_REASONS = 64  # distinct reasons kept; more collapse into "other" (bounded memory)


def _bump(counter: Counter[str], reason: str) -> None:
    if reason not in counter and len(counter) >= _MAX_REASONS:
        reason = "other"
    counter[reason] += 1


@dataclass
class IngestStats:
    """Counters of one ingest run; pass one instance to the decode functions to fill it."""

    messages: int = 0
    malformed_messages: int = 0
    spans: int = 0
    calls: int = 0
    rejected_spans: Counter[str] = field(default_factory=Counter)
    sanitised_values: Counter[str] = field(default_factory=Counter)

    def reject(self, reason: str) -> None:
        _bump(self.rejected_spans, reason)

    def sanitise(self, reason: str) -> None:
        _bump(self.sanitised_values, reason)

    def to_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "malformed_messages": self.malformed_messages,
            "spans": self.spans,
            "calls": self.calls,
            "rejected_spans": dict(self.rejected_spans),
            "sanitised_values": dict(self.sanitised_values),
        }
