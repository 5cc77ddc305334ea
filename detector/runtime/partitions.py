"""Detection over the partitions a consumer owns: one pipeline and one state per partition.

Source-agnostic: the Kafka consumer group drives it from its rebalance callbacks and polls,
a test can drive it by hand. A partition's life: ``assign`` (restore state, say where to
resume) → ``process`` batches → ``checkpoint`` now and then → ``release`` (checkpoint, let go)
or ``discard`` (membership lost: another consumer may already own it, so write nothing).

>>> import tempfile
>>> from swapwatch.detector.calls import LlmCall
>>> from swapwatch.detector.runtime.records import encode_call
>>> store = DirectoryStateStore(tempfile.mkdtemp())
>>> owner = PartitionedDetection(store, CountingDetector, lambda topic, partition: CollectingSink())
>>> owner.assign("calls", 0) is None  # nothing stored yet: start where the group left off
True
>>> rec = encode_call(LlmCall(start_ns=1, end_ns=2, trace_id="t", span_id="s"))
>>> owner.process("calls", 0, [Record(5, None, rec), Record(6, None, b"junk")])
[]
>>> owner.checkpoint([("calls", 0)], "shutdown")
{('calls', 0): 7}
>>> owner.release("calls", 0)
>>> again = PartitionedDetection(store, CountingDetector, lambda topic, partition: CollectingSink())
>>> again.assign("calls", 0)  # resumes after the last processed record, with the learner
7
>>> again.owned[("calls", 0)].state.detector.calls
1
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from swapwatch.detector.alerts.alert import Alert
from swapwatch.detector.runtime.checkpoint import (
    CheckpointReason,
    DirectoryStateStore,
    PartitionState,
    StateCorrupt,
    StateOutdated,
    StateStore,
    checkpoint_due,
)
from swapwatch.detector.runtime.config import RuntimeConfig
from swapwatch.detector.runtime.metrics import RuntimeMetrics
from swapwatch.detector.runtime.pipeline import (
    AlertSink,
    CallDetector,
    CollectingSink,
    CountingDetector,
    Pipeline,
)
from swapwatch.detector.runtime.records import BadCallRecord, decode_calls

log = logging.getLogger(__name__)
TopicPartitionId = tuple[str, int]
DeadLetterHook = Callable[["Record", str, str, int, str], None]


@dataclass(frozen=True, slots=True)
class Record:
    """One source record: what every source yields, whatever the transport."""

    offset: int
    key: bytes | None
    value: bytes | None


@dataclass
class _Owned:
    state: PartitionState
    pipeline: Pipeline
    calls_since: int = 0
    checkpointed_at: float = field(default=0.0)


class PartitionedDetection:
    """Owns the partitions assigned to this consumer and their detection state."""

    def __init__(
        self,
        store: StateStore,
        detector_factory: Callable[[], CallDetector],
        sink_factory: Callable[[str, int], AlertSink],
        metrics: RuntimeMetrics | None = None,
        config: RuntimeConfig | None = None,
        dead_letter: DeadLetterHook | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.detector_factory = detector_factory
        self.sink_factory = sink_factory
        self.metrics = metrics or RuntimeMetrics()
        self.config = config or RuntimeConfig()
        self.dead_letter = dead_letter
        self.clock = clock
        self.owned: dict[TopicPartitionId, _Owned] = {}

    # --- ownership -------------------------------------------------------------------------
    def assign(self, topic: str, partition: int) -> int | None:
        """Take a partition; returns the offset to resume at (``None``: the group's commit)."""
        if (topic, partition) in self.owned:
            return self.owned[(topic, partition)].state.next_offset
        stored = self._load(topic, partition)
        state = stored or PartitionState.fresh(topic, partition, self.detector_factory(),
                                               self.config.dedup_window)
        pipeline = Pipeline(state.detector, self.sink_factory(topic, partition), self.metrics,
                            dedup=state.seen, watermark_ns=state.watermark_ns)
        self.owned[(topic, partition)] = _Owned(state, pipeline, checkpointed_at=self.clock())
        log.info("assigned %s[%d]: %s", topic, partition,
                 f"resuming at offset {state.next_offset}" if stored else "fresh state")
        return state.next_offset if stored else None

    def _load(self, topic: str, partition: int) -> PartitionState | None:
        """The stored state; an unreadable file is moved aside (kept for inspection), said
        loudly and counted, and the partition starts fresh: one bad file must not stop the
        consumer, nor be silently overwritten."""
        try:
            return self.store.load(topic, partition)
        except StateCorrupt as err:
            reason = "outdated" if isinstance(err, StateOutdated) else "unreadable"
            aside = getattr(self.store, "set_aside", None)
            kept = aside(topic, partition) if callable(aside) else None
            log.error("%s[%d]: state not restored (%s); starting from fresh state, learned "
                      "baselines are lost%s", topic, partition, err,
                      f"; the file is kept as {kept}" if kept else "")
            self.metrics.states_discarded.labels(reason=reason).inc()
            return None

    def release(self, topic: str, partition: int) -> None:
        """Give a partition up cleanly: checkpoint it so that its next owner resumes here."""
        if (topic, partition) not in self.owned:
            return
        self.checkpoint([(topic, partition)], "revoked")
        _close(self.owned.pop((topic, partition)).pipeline.alerts)
        log.info("released %s[%d]", topic, partition)

    def discard(self, topic: str, partition: int) -> None:
        """Membership lost: drop the partition without writing (its new owner may write)."""
        owned = self.owned.pop((topic, partition), None)
        if owned is not None:
            _close(owned.pipeline.alerts)
            log.warning("lost %s[%d]; in-memory progress since its checkpoint is dropped",
                        topic, partition)

    # --- data ------------------------------------------------------------------------------
    def process(self, topic: str, partition: int, records: list[Record]) -> list[Alert]:
        owned = self.owned[(topic, partition)]
        calls = []
        for record in records:
            if record.offset < owned.state.next_offset:
                continue  # before the restored position: already in the state
            try:
                calls.extend(decode_calls(record.value or b""))
            except BadCallRecord as err:
                if self.dead_letter is not None:
                    self.dead_letter(record, str(err), topic, partition, "bad_call_record")
                else:
                    self.metrics.decode_errors.labels(stage="detect",
                                                      reason="bad_call_record").inc()
        alerts = owned.pipeline.process(calls)
        if records:
            owned.state.next_offset = records[-1].offset + 1
            owned.state.watermark_ns = owned.pipeline.watermark_ns
            owned.calls_since += max(len(calls), 1)
        return alerts

    # --- checkpoints -----------------------------------------------------------------------
    def due(self) -> list[tuple[TopicPartitionId, CheckpointReason]]:
        now = self.clock()
        out = []
        for tp, owned in self.owned.items():
            reason = checkpoint_due(owned.calls_since, now - owned.checkpointed_at,
                                    self.config.checkpoint_every_calls,
                                    self.config.checkpoint_interval_s)
            if reason is not None:
                out.append((tp, reason))
        return out

    def checkpoint(self, tps: list[TopicPartitionId], reason: CheckpointReason
                   ) -> dict[TopicPartitionId, int]:
        """Flush alerts, then persist state; returns the offsets the caller then commits."""
        offsets: dict[TopicPartitionId, int] = {}
        for tp in tps:
            owned = self.owned.get(tp)
            if owned is None:
                continue
            owned.pipeline.flush()
            self.store.save(owned.state)
            owned.calls_since = 0
            owned.checkpointed_at = self.clock()
            offsets[tp] = owned.state.next_offset
            self.metrics.checkpoints.labels(reason=reason).inc()
        return offsets

    def checkpoint_age(self) -> float:
        """Seconds since the least recently checkpointed owned partition (0 when none)."""
        if not self.owned:
            return 0.0
        return self.clock() - min(o.checkpointed_at for o in self.owned.values())

    def series_keys(self) -> int:
        """Series tracked over the owned partitions, when the detector can say."""
        total = 0
        for owned in self.owned.values():
            keys: Any = getattr(owned.state.detector, "keys", None)
            if callable(keys):
                total += len(keys())
        return total


def _close(sink: AlertSink) -> None:
    """Sinks that hold threads or files (the alert dispatcher) close with their partition."""
    close = getattr(sink, "close", None)
    if callable(close):
        close()


__all__ = [
    "CollectingSink",
    "CountingDetector",
    "DirectoryStateStore",
    "PartitionedDetection",
    "Record",
]
