"""The embedded transport: ``swapwatch collect`` hands spans to detection in the same process.

:class:`SpanQueue` is the collector's :class:`~swapwatch.collector.receiver.SpanSink` when
there is no Kafka: the same keyed records (``ExportTraceServiceRequest`` bytes) go into a
bounded queue instead of a topic. When detection falls behind and the queue is full, ``publish``
refuses like an unavailable broker, so the OTLP client keeps its spans and retries later:
backpressure, never unbounded memory. :class:`EmbeddedDetection` is the consumer: it decodes
and feeds the runtime's one :class:`~swapwatch.detector.runtime.pipeline.Pipeline`.

>>> from swapwatch.detector.runtime.pipeline import CollectingSink, CountingDetector, Pipeline
>>> q = SpanQueue(max_records=1, put_timeout_s=0.01)
>>> q.publish([(b"k", b"")])  # an empty request: no spans, still a record
>>> q.publish([(b"k", b"")])
Traceback (most recent call last):
...
swapwatch.collector.producer.KafkaUnavailable: the in-process span queue is full ...
>>> detection = EmbeddedDetection(q, Pipeline(CountingDetector(), CollectingSink()))
>>> detection.drain_once(), detection.records, q.pending
(0, 1, 0)
"""

from __future__ import annotations

import logging
import queue
import threading

from swapwatch.collector.filter import KafkaRecord
from swapwatch.collector.producer import KafkaUnavailable
from swapwatch.detector.calls import LlmCall
from swapwatch.detector.ingest.config import IngestConfig
from swapwatch.detector.ingest.decode import calls_from_protobuf
from swapwatch.detector.ingest.errors import IngestStats, MalformedInput
from swapwatch.detector.runtime.pipeline import Pipeline

log = logging.getLogger(__name__)

_BATCH = 256  # records taken per turn


class SpanQueue:
    """A bounded queue of keyed OTLP records between the receiver and detection."""

    def __init__(self, max_records: int = 10_000, put_timeout_s: float = 2.0) -> None:
        self.max_records = max_records
        self.put_timeout_s = put_timeout_s
        self._queue: queue.Queue[KafkaRecord] = queue.Queue(maxsize=max_records)
        self.refused = 0
        self.taken = 0  # by the one consumer

    def publish(self, records: list[KafkaRecord]) -> None:
        for record in records:
            try:
                self._queue.put(record, timeout=self.put_timeout_s)
            except queue.Full:
                self.refused += 1
                raise KafkaUnavailable(f"the in-process span queue is full "
                                       f"({self.max_records} records); retry later") from None

    def take(self, timeout_s: float, limit: int = _BATCH) -> list[KafkaRecord]:
        """Up to ``limit`` records, waiting at most ``timeout_s`` for the first."""
        try:
            first = self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return []
        records = [first]
        while len(records) < limit:
            try:
                records.append(self._queue.get_nowait())
            except queue.Empty:
                break
        self.taken += len(records)
        return records

    @property
    def pending(self) -> int:
        return self._queue.qsize()


class EmbeddedDetection:
    """Consumes a :class:`SpanQueue` on its own thread and runs the pipeline on its calls."""

    def __init__(self, spans: SpanQueue, pipeline: Pipeline,
                 ingest: IngestConfig | None = None) -> None:
        self.spans = spans
        self.pipeline = pipeline
        self.ingest = ingest or IngestConfig()
        self.stats = IngestStats()
        self.records = 0
        self.calls = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def drain_once(self, timeout_s: float = 0.0) -> int:
        """One turn: decode what is queued and detect on it; returns the calls handled."""
        records = self.spans.take(timeout_s)
        calls: list[LlmCall] = []
        for _key, value in records:
            try:
                calls.extend(calls_from_protobuf(value, self.ingest, self.stats))
            except MalformedInput as err:  # counted in stats; the demo's own spans
                log.warning("undecodable span record: %s", err)
        if calls:
            calls.sort(key=lambda c: c.end_ns)
            self.pipeline.process(calls)
            self.calls += len(calls)
        self.records += len(records)  # last: idle() compares it with what was taken
        return len(calls)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.drain_once(timeout_s=0.2)

    def start(self) -> EmbeddedDetection:
        self._thread = threading.Thread(target=self._run, name="swapwatch-demo-detect",
                                        daemon=True)
        self._thread.start()
        return self

    def idle(self) -> bool:
        """Nothing queued, and everything taken from the queue has been detected on."""
        return not self.spans.pending and self.spans.taken == self.records

    def stop(self) -> None:
        """Stop the thread, then detect on whatever is still queued."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        while self.spans.pending:
            self.drain_once()
