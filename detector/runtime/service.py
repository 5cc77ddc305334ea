"""``swapwatch detect --kafka``: the two stages of streaming detection in one process.

    otlp_spans (any key) ─ repartition ─▶ swapwatch_calls (keyed by series) ─ detect ─▶ alerts

Both stages are consumer groups (``{group}-repartition`` and ``{group}``), so any number of
processes share the work; ``stages`` runs one of them alone when they should scale apart.
Per loop: poll spans → produce calls → every ``commit_interval_s``: flush, commit spans; poll
calls → detect per partition → when due, checkpoint: flush alerts → persist state → commit
offsets.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Literal

from kafka import KafkaAdminClient, TopicPartition
from kafka.errors import KafkaError, TopicAlreadyExistsError
from swapwatch.detector.ingest.config import IngestConfig
from swapwatch.detector.runtime.checkpoint import CheckpointReason, DirectoryStateStore
from swapwatch.detector.runtime.config import RuntimeConfig
from swapwatch.detector.runtime.deadletter import DeadLetters
from swapwatch.detector.runtime.kafka_source import GroupSource, durable_producer
from swapwatch.detector.runtime.metrics import MetricsServer, RuntimeMetrics
from swapwatch.detector.runtime.partitions import PartitionedDetection, Record
from swapwatch.detector.runtime.pipeline import AlertSink, CallDetector
from swapwatch.detector.runtime.repartition import Repartitioner

log = logging.getLogger(__name__)
Stage = Literal["repartition", "detect"]
STALL_S = 60.0  # /healthz fails when the loop has not turned for this long


def ensure_topics(config: RuntimeConfig, timeout_s: float = 30.0) -> None:
    """Create the calls and dead-letter topics when missing (the spans topic is the
    producer's)."""
    kafka = config.kafka
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers,
                             client_id="swapwatch-admin",
                             request_timeout_ms=int(timeout_s * 1000))
    try:
        for name, partitions in ((kafka.calls_topic, kafka.calls_partitions),
                                 (kafka.dead_letter_topic, 1)):
            try:
                admin.create_topics(
                    {name: {"num_partitions": partitions,
                            "replication_factor": kafka.replication_factor}},
                    timeout_ms=int(timeout_s * 1000), wait_for_metadata=True)
                log.info("created topic %s (%d partitions)", name, partitions)
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()


class KafkaRuntime:
    """Runs the selected stages until :meth:`stop`; :meth:`close` checkpoints and leaves."""

    def __init__(self, config: RuntimeConfig, *,
                 detector_factory: Callable[[], CallDetector],
                 sink_factory: Callable[[str, int], AlertSink],
                 ingest: IngestConfig | None = None,
                 stages: Iterable[Stage] = ("repartition", "detect"),
                 metrics: RuntimeMetrics | None = None,
                 client_id: str = "swapwatch-detect",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.stages = set(stages)
        self.metrics = metrics or RuntimeMetrics()
        self.clock = clock
        self._stop = threading.Event()
        self._last_turn = clock()
        self._last_lag = 0.0
        self._spans_committed: dict[TopicPartition, int] = {}
        self._spans_commit_at = clock()  # when the repartition stage last flushed and committed
        self._calls_busy = False  # the detect stage had records, or calls are on their way
        self._spans_active: dict[TopicPartition, float] = {}  # last records, per partition
        kafka = config.kafka
        ensure_topics(config)
        self.producer = durable_producer(kafka.bootstrap_servers, client_id,
                                         delivery_timeout_ms=kafka.delivery_timeout_ms,
                                         request_timeout_ms=kafka.request_timeout_ms)
        self.dead_letters = DeadLetters(self.producer, kafka.dead_letter_topic, self.metrics)
        self.detection = PartitionedDetection(
            DirectoryStateStore(config.state_dir), detector_factory, sink_factory,
            self.metrics, config, dead_letter=self._dead_call, clock=clock)
        self.repartitioner = Repartitioner(config, self.producer, self.dead_letters,
                                           self.metrics, ingest)
        self.spans: GroupSource | None = None
        self.calls: GroupSource | None = None
        if "repartition" in self.stages:
            self.spans = GroupSource(kafka, kafka.spans_topic, f"{kafka.group}-repartition",
                                     on_assigned=lambda tps: None,
                                     on_revoked=self.repartitioner.forget,
                                     on_lost=self.repartitioner.forget,
                                     client_id=f"{client_id}-repartition",
                                     fetch_bytes=kafka.spans_partition_fetch_bytes)
        if "detect" in self.stages:
            self.calls = GroupSource(kafka, kafka.calls_topic, kafka.group,
                                     on_assigned=self._assigned, on_revoked=self._revoked,
                                     on_lost=self._lost, client_id=client_id)
        self.server: MetricsServer | None = None
        if config.metrics_port is not None:
            self.server = MetricsServer(self.metrics, config.metrics_host, config.metrics_port,
                                        self.health)

    # --- rebalance callbacks (run inside poll) ----------------------------------------------
    def _assigned(self, tps: list[TopicPartition]) -> None:
        for tp in tps:
            offset = self.detection.assign(tp.topic, tp.partition)
            if offset is not None and self.calls is not None:
                self.calls.seek(tp, offset)

    def _revoked(self, tps: list[TopicPartition]) -> None:
        for tp in tps:
            self.detection.release(tp.topic, tp.partition)

    def _lost(self, tps: list[TopicPartition]) -> None:
        for tp in tps:
            self.detection.discard(tp.topic, tp.partition)

    def _dead_call(self, record: Record, reason: str, topic: str, partition: int,
                   kind: str) -> None:
        self.dead_letters.send(value=record.value, key=record.key, reason=reason, kind=kind,
                               stage="detect", topic=topic, partition=partition,
                               offset=record.offset)

    # --- the loop ---------------------------------------------------------------------------
    def run_once(self, timeout_ms: int = 200) -> None:
        """One turn of each stage. With both stages, each waits up to half of ``timeout_ms``
        for records, and not at all while the other has work (a drained spans topic must not
        hold back detection of a calls backlog or of the calls just produced, nor the
        reverse)."""
        both = self.spans is not None and self.calls is not None
        polled = produced = False
        if self.spans is not None:
            wait = timeout_ms if not both else 0 if self._calls_busy else timeout_ms // 2
            polled, produced = self._repartition_turn(wait)
        if self.calls is not None:
            wait = timeout_ms if not both else 0 if polled else timeout_ms // 2
            self._calls_busy = self._detect_turn(wait) or produced
        self._last_turn = self.clock()
        self._update_gauges()

    def _repartition_turn(self, timeout_ms: int) -> tuple[bool, bool]:
        """Returns whether records came in, and whether calls went out."""
        assert self.spans is not None
        spans, stage = self.spans, self.repartitioner
        now = self.clock()
        polled = spans.poll(timeout_ms)
        for tp, records in polled.items():
            stage.handle(tp, records)
            self._spans_active[tp] = now
        kafka = self.config.kafka
        idle_s = kafka.max_partition_idle_s
        catching_up = [tp for tp in spans.assignment()
                       if not spans.at_end(tp, stage.next_offset(tp))
                       and now - self._spans_active.setdefault(tp, now) < idle_s]
        produced = stage.produce_released(catching_up)
        if stage.pending() and now - self._spans_commit_at >= kafka.commit_interval_s:
            self._spans_commit_at = now
            self._commit_spans()
        return bool(polled), produced > 0

    def _commit_spans(self) -> None:
        """Flush the calls produced so far, then commit the spans they came from (or rewind
        to the first span not known to be delivered)."""
        assert self.spans is not None
        spans, stage = self.spans, self.repartitioner
        offsets = stage.offsets_to_commit()
        if offsets is None:
            for tp, offset in stage.rewind().items():
                if tp in spans.assignment():
                    spans.seek(tp, offset)
            return
        changed = {tp: o for tp, o in offsets.items() if self._spans_committed.get(tp) != o}
        if changed and spans.commit(changed):
            self._spans_committed.update(changed)
        stage.committed(offsets)

    def _detect_turn(self, timeout_ms: int) -> bool:
        """Returns whether records came in."""
        assert self.calls is not None
        polled = self.calls.poll(timeout_ms)
        for tp, records in polled.items():
            if (tp.topic, tp.partition) in self.detection.owned:
                self.detection.process(tp.topic, tp.partition, records)
        due = self.detection.due()
        if due:
            self.checkpoint([tp for tp, _ in due], due[0][1])
        return bool(polled)

    def checkpoint(self, tps: list[tuple[str, int]], reason: CheckpointReason) -> None:
        """Flush alerts → persist state → commit offsets, for ``tps``."""
        try:  # dead letters first: the state written next skips past their records
            self.producer.flush(timeout=self.config.kafka.flush_timeout_s)
        except KafkaError as err:
            log.warning("dead letters not flushed (%s); checkpoint postponed", err)
            return
        offsets = self.detection.checkpoint(tps, reason)
        if self.calls is not None and offsets:
            self.calls.commit({TopicPartition(t, p): o for (t, p), o in offsets.items()})

    def _update_gauges(self) -> None:
        self.metrics.checkpoint_age.set(self.detection.checkpoint_age())
        if self.calls is None or self.clock() - self._last_lag < 2.0:
            return
        self._last_lag = self.clock()
        self.metrics.keys.set(self.detection.series_keys())
        self.metrics.partitions.labels(topic=self.calls.topic).set(len(self.detection.owned))
        positions = {TopicPartition(t, p): o.state.next_offset
                     for (t, p), o in self.detection.owned.items()}
        for tp, lag in self.calls.lag(positions).items():
            self.metrics.lag.labels(topic=tp.topic, partition=str(tp.partition)).set(lag)

    def health(self) -> tuple[bool, str]:
        stalled = self.clock() - self._last_turn
        if stalled > STALL_S:
            return False, f"processing loop stalled for {stalled:.0f} s"
        return True, f"ok: {len(self.detection.owned)} partitions owned"

    def run(self) -> None:
        """Loop until :meth:`stop` (from a signal handler or another thread)."""
        while not self._stop.is_set():
            self.run_once()

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        """Checkpoint every owned partition, commit, and leave the groups."""
        self.checkpoint(list(self.detection.owned), "shutdown")
        if self.spans is not None and self.repartitioner.pending():
            offsets = self.repartitioner.offsets_to_commit()
            if offsets:
                self.spans.commit(offsets)
        for source in (self.spans, self.calls):
            if source is not None:
                source.close()  # its revoke callback releases what is still owned
        self.producer.close(timeout=10)
        if self.server is not None:
            self.server.close()
