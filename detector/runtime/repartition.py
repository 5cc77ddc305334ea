"""Stage 1 on Kafka: spans in any keying → compact call records keyed by series.

The Collector's kafka exporter keys records by trace id or not at all, so the calls of one
series arrive on every partition of ``otlp_spans``. Detection state is per series; splitting a
series over consumers would split its baselines. So stage 1 (stateless, scales with the spans
topic's partitions) decodes and extracts, and re-keys each call to ``calls_topic`` by series
key; stage 2 (stateful) then finds every call of a series in one partition, and its state is
exact. The calls topic is small (a few hundred bytes per call instead of whole span batches),
so the extra hop costs little next to decoding.

Event time across partitions: a consumer that reads a backlog gets one partition's records
long before another's, which would hand detection a series' calls hours out of order. Stage 1
therefore merges its partitions in event time (as Kafka Streams does): a call is released only
once every partition still catching up has reached its time. Partitions at their end do not
hold the others back, so live traffic flows at once. The consumer fetches every partition in
turn (``max_partition_fetch_bytes`` per partition per fetch), so partitions advance together;
at most ``max_held_calls`` wait, beyond which the oldest go out regardless. (Pausing the
partitions that run ahead would bound this more tightly, but kafka-python 3.0.12 stops
returning the other partitions' records once one is paused, so the runtime never pauses.)

Delivery is at least once: a spans offset is committed only after every call of it and of the
records before it was produced and flushed; a crash in between produces some calls twice, and
stage 2 drops the copies by (trace id, span id). When the producer cannot deliver, the stage
rewinds to the first uncommitted offset of each partition: no span is skipped.

>>> h = EventTimeMerge()
>>> h.hold("p0", 10, "call-a", end_ns=5); h.hold("p1", 3, "call-b", end_ns=2)
>>> h.hold("p0", 11, "call-c", end_ns=9)
>>> h.release(active={"p0": 9, "p1": 2})  # p1 is still catching up at t=2
['call-b']
>>> h.first_held_offset("p0"), h.first_held_offset("p1")
(10, None)
>>> h.release(active={})  # every partition at its end: nothing to wait for
['call-a', 'call-c']
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Hashable, Mapping
from itertools import repeat
from operator import itemgetter
from typing import Any

from kafka import TopicPartition
from kafka.errors import KafkaError
from swapwatch.detector.calls import LlmCall
from swapwatch.detector.ingest.config import IngestConfig
from swapwatch.detector.ingest.decode import calls_from_protobuf
from swapwatch.detector.ingest.errors import IngestStats, MalformedInput
from swapwatch.detector.runtime.config import RuntimeConfig
from swapwatch.detector.runtime.deadletter import DeadLetters
from swapwatch.detector.runtime.metrics import RuntimeMetrics
from swapwatch.detector.runtime.partitions import Record
from swapwatch.detector.runtime.records import RECORD_HEADERS, encode_calls, partition_key

log = logging.getLogger(__name__)
CALLS_PER_RECORD = 500  # a few hundred bytes each: records stay far below 1 MB
SpanDecoder = Callable[[bytes, IngestConfig, IngestStats], list[LlmCall]]
_END, _SOURCE, _ITEM = itemgetter(0), itemgetter(1, 2), itemgetter(3)


class EventTimeMerge:
    """Calls held back until the slowest active partition has passed their end time.

    The held calls are one list, sorted (stably: equal times keep the order they were held in)
    when released; what stays held is already in order, so the sort of a turn's new calls is
    cheap. Far less per call than a heap of one entry per call: a turn holds thousands."""

    def __init__(self) -> None:
        self._held: list[tuple[int, Hashable, int, Any]] = []  # (end_ns, partition, offset, item)
        self._held_offsets: dict[Hashable, Counter[int]] = {}

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, partition: Hashable, offset: int, item: Any, end_ns: int) -> None:
        self.hold_many(partition, offset, [item], [end_ns])

    def hold_many(self, partition: Hashable, offset: int, items: list[Any],
                  ends: list[int]) -> None:
        """Hold ``items`` of the record at ``offset``, ending at ``ends`` (one each)."""
        if not items:
            return
        n = len(items)
        self._held.extend(zip(ends, repeat(partition, n), repeat(offset, n), items, strict=True))
        self._held_offsets.setdefault(partition, Counter())[offset] += n

    def release(self, active: Mapping[Hashable, int | None], force: int = 0) -> list[Any]:
        """Items whose time every active partition has reached (its watermark; ``None``: not
        read yet, so nothing can go), plus the ``force`` oldest regardless (the bound)."""
        held = self._held
        if not held:
            return []
        marks = list(active.values())
        held.sort(key=_END)
        if not marks:
            due = len(held)
        elif None in marks:
            due = 0
        else:
            due = bisect_right(held, min(marks), key=_END)  # type: ignore[type-var]
        due = min(len(held), max(due, force))
        if due == 0:
            return []
        out = held[:due]
        del held[:due]
        for (partition, offset), count in Counter(map(_SOURCE, out)).items():
            offsets = self._held_offsets[partition]
            offsets[offset] -= count
            if offsets[offset] == 0:
                del offsets[offset]
        return list(map(_ITEM, out))

    def first_held_offset(self, partition: Hashable) -> int | None:
        held = self._held_offsets.get(partition)
        return min(held) if held else None

    def drop(self, partition: Hashable) -> None:
        """Forget a partition's held items (given up: its next owner reads them again)."""
        self._held = [e for e in self._held if e[1] != partition]
        self._held_offsets.pop(partition, None)


class Repartitioner:
    """Decodes span records, merges partitions in event time, produces call records, and
    says which offsets are safe to commit."""

    def __init__(self, config: RuntimeConfig, producer: Any, dead_letters: DeadLetters,
                 metrics: RuntimeMetrics, ingest: IngestConfig | None = None,
                 decode: SpanDecoder = calls_from_protobuf) -> None:
        self.config = config
        self.producer = producer
        self.dead_letters = dead_letters
        self.metrics = metrics
        self.ingest = ingest or IngestConfig()
        self.decode = decode
        self.stats = IngestStats()
        self.merge = EventTimeMerge()
        self.watermark_ns: dict[TopicPartition, int] = {}
        self._uncommitted_from: dict[TopicPartition, int] = {}
        self._next: dict[TopicPartition, int] = {}  # next offset to read, per partition
        self._futures: list[Any] = []

    def handle(self, tp: TopicPartition, records: list[Record]) -> None:
        """Decode ``records`` and hold their calls for the event-time merge."""
        for record in records:
            spans_before = self.stats.spans
            try:
                calls = self.decode(record.value or b"", self.ingest, self.stats)
            except MalformedInput as err:
                self.dead_letters.send(value=record.value, key=record.key, reason=err.reason,
                                       kind="malformed_otlp", stage="repartition",
                                       topic=tp.topic, partition=tp.partition,
                                       offset=record.offset)
                continue
            finally:
                self.metrics.spans.inc(self.stats.spans - spans_before)
            if calls:
                ends = [call.end_ns for call in calls]
                self.merge.hold_many(tp, record.offset, calls, ends)
                latest = max(ends)
                if latest > self.watermark_ns.get(tp, 0):
                    self.watermark_ns[tp] = latest
        if records:
            self._uncommitted_from.setdefault(tp, records[0].offset)
            self._next[tp] = records[-1].offset + 1

    def produce_released(self, catching_up: list[TopicPartition]) -> int:
        """Produce every call that no partition in ``catching_up`` can still precede."""
        active = {tp: self.watermark_ns.get(tp) for tp in catching_up}
        force = max(0, len(self.merge) - self.config.kafka.max_held_calls)
        kafka = self.config.kafka
        released = self.merge.release(active, force)
        by_key: dict[bytes, list[LlmCall]] = {}
        for call in released:  # in event time; one record per key keeps each key's order
            by_key.setdefault(partition_key(call, kafka.partition_by), []).append(call)
        for key, calls in by_key.items():
            for start in range(0, len(calls), CALLS_PER_RECORD):
                self._futures.append(self.producer.send(
                    kafka.calls_topic, value=encode_calls(calls[start:start + CALLS_PER_RECORD]),
                    key=key, headers=RECORD_HEADERS))
        return len(released)

    def pending(self) -> bool:
        return bool(self._next)

    def next_offset(self, tp: TopicPartition) -> int | None:
        return self._next.get(tp)

    def offsets_to_commit(self) -> dict[TopicPartition, int] | None:
        """Flush the producer; per partition the offset up to which every call is in Kafka,
        or ``None`` when delivery failed (call :meth:`rewind` then)."""
        if not self._next:
            return {}
        try:
            self.producer.flush(timeout=self.config.kafka.flush_timeout_s)
        except KafkaError as err:
            log.warning("calls not delivered (%s)", err)
            return None
        failed = [f for f in self._futures if not f.succeeded()]
        if failed:
            log.warning("%d calls not delivered (%s)", len(failed),
                        failed[0].exception if failed[0].failed() else "timeout")
            return None
        self._futures.clear()
        out = {}
        for tp, next_offset in self._next.items():
            held = self.merge.first_held_offset(tp)
            out[tp] = next_offset if held is None else held
        return out

    def committed(self, offsets: Mapping[TopicPartition, int]) -> None:
        for tp, offset in offsets.items():
            if self.merge.first_held_offset(tp) is None and offset == self._next.get(tp):
                self._uncommitted_from.pop(tp, None)
                self._next.pop(tp, None)
            else:
                self._uncommitted_from[tp] = offset

    def rewind(self) -> dict[TopicPartition, int]:
        """Where to seek so that every span not known to be delivered is read again."""
        where = dict(self._uncommitted_from)
        for tp in list(where):
            self.forget([tp])
        self._futures.clear()
        return where

    def forget(self, tps: list[TopicPartition]) -> None:
        """Partitions given up: their uncommitted work is redone by the next owner."""
        for tp in tps:
            self.merge.drop(tp)
            self.watermark_ns.pop(tp, None)
            self._uncommitted_from.pop(tp, None)
            self._next.pop(tp, None)
