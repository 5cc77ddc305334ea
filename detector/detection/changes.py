"""``ChangePoint``: one signal of one series changed regime — the record a ledger consumes.

The engine appends one per learner shift that it settles: confirmed by a ``swap`` alert,
explained by an ``incident`` or an ``identity`` episode, or ``unconfirmed`` (a lone shift that
outlived its wait and was adopted as the new baseline). A regime ledger drains them with
:meth:`swapwatch.detector.detection.engine.Detector.drain_change_points`, in event-time order
of detection.

>>> from swapwatch.detector.detection.keys import SeriesKey
>>> cp = ChangePoint(key=SeriesKey("api", "chat", "openai", "gpt-4o", "prod"),
...                  signal="output_tokens", started_ns=10, detected_ns=20, started_index=3,
...                  detected_index=9, outcome="swap", before={"before": 100.0},
...                  after={"after": 60.0})
>>> cp.to_dict()["key"]["surface"], cp.to_dict()["outcome"]
('chat', 'swap')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from swapwatch.detector.detection.keys import SeriesKey

Outcome = Literal["swap", "incident", "identity", "unconfirmed"]


@dataclass(frozen=True, slots=True)
class ChangePoint:
    key: SeriesKey
    signal: str
    started_ns: int
    detected_ns: int
    started_index: int
    detected_index: int
    outcome: Outcome
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key._asdict(),
            "signal": self.signal,
            "started_ns": self.started_ns,
            "detected_ns": self.detected_ns,
            "started_index": self.started_index,
            "detected_index": self.detected_index,
            "outcome": self.outcome,
            "before": self.before,
            "after": self.after,
        }
