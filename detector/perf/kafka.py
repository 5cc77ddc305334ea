"""End to end through a real Kafka broker: a backlog of span messages, then the consumer.

1. produce: the messages to a new spans topic (acks=all, idempotent, as ``swapwatch collect``
   produces), flushed;
2. consume: :class:`~swapwatch.detector.runtime.service.KafkaRuntime`, the service behind
   ``swapwatch detect --kafka`` (repartition stage → calls topic → detection stage, real
   :class:`~swapwatch.detector.detection.engine.Detector`, checkpoints to a temporary state
   directory, alerts kept in memory), turned until every call has reached detection.

The consume figure counts from the start of the turn that first decoded spans to the last
call detected (``steady``: the stages at work, filling the pipeline included; starting at the
first call detected instead would leave out the turns that took the first spans through both
stages, and flatter larger fetches); ``total`` also includes joining the two consumer groups
(and any restart after a stalled join, counted in ``restarts``). Topics and groups are named
per run and the topics deleted afterwards. The broker shares the machine's cores with the
detector.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swapwatch.detector.perf.measure import Timing

JOIN_STALL_S = 20.0  # a consumer without partitions this long after starting is stuck


@dataclass(frozen=True)
class KafkaRun:
    """What one backlog run measured."""

    spans: int
    calls: int
    partitions: int
    calls_partitions: int
    produce: Timing
    consume_total: Timing  # from the runtime's first turn (includes joining the groups)
    consume_steady: Timing  # from the turn that first decoded spans to the last call detected
    complete: bool  # every call reached detection before the deadline
    spans_decoded: int = 0  # by the repartition stage (diagnosis of an incomplete run)
    spans_partitions_owned: int = 0  # at the end, by this consumer
    calls_partitions_owned: int = 0
    restarts: int = 0  # runtimes started over because a consumer never got its partitions

    def to_dict(self) -> dict[str, Any]:
        return {"spans": self.spans, "calls": self.calls, "partitions": self.partitions,
                "calls_partitions": self.calls_partitions, "complete": self.complete,
                "spans_decoded": self.spans_decoded,
                "owned": [self.spans_partitions_owned, self.calls_partitions_owned],
                "restarts": self.restarts,
                "produce": self.produce.to_dict(), "consume_total": self.consume_total.to_dict(),
                "consume_steady": self.consume_steady.to_dict()}


def _create_topic(bootstrap: str, name: str, partitions: int) -> None:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="swapwatch-bench")
    try:
        admin.create_topics({name: {"num_partitions": partitions, "replication_factor": 1}},
                            timeout_ms=30_000, wait_for_metadata=True)
    finally:
        admin.close()


def _delete_topics(bootstrap: str, names: list[str]) -> None:
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    with contextlib.suppress(KafkaError, OSError):
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="swapwatch-bench",
                                 request_timeout_ms=10_000)
        try:
            admin.delete_topics(names, timeout_ms=10_000)
        finally:
            admin.close()


def produce_backlog(bootstrap: str, topic: str, messages: list[bytes], spans: int) -> Timing:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, client_id="swapwatch-bench",
                             acks="all", enable_idempotence=True, linger_ms=5,
                             max_request_size=8 * 1024 * 1024)
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        for message in messages:
            producer.send(topic, value=message)
        producer.flush(timeout=120)
        return Timing(spans, time.perf_counter() - wall, time.process_time() - cpu)
    finally:
        producer.close(timeout=10)


def kafka_end_to_end(bootstrap: str, messages: list[bytes], spans: int, calls: int,
                     partitions: int = 3, calls_partitions: int = 4,
                     timeout_s: float = 600.0,
                     detector_factory: Callable[[], Any] | None = None) -> KafkaRun:
    """Produce ``messages`` (``spans`` spans carrying ``calls`` LLM calls), then consume them
    with the detect runtime until ``calls`` calls were detected or ``timeout_s`` passed."""
    from prometheus_client import CollectorRegistry
    from swapwatch.detector.detection.engine import Detector
    from swapwatch.detector.runtime.config import RuntimeConfig
    from swapwatch.detector.runtime.metrics import RuntimeMetrics
    from swapwatch.detector.runtime.pipeline import CollectingSink
    from swapwatch.detector.runtime.service import KafkaRuntime

    run = f"swapwatch-bench-{uuid.uuid4().hex[:8]}"
    topics = {"spans_topic": f"{run}-spans", "calls_topic": f"{run}-calls",
              "dead_letter_topic": f"{run}-dead"}
    state_dir = Path(tempfile.mkdtemp(prefix="swapwatch-bench-"))
    try:
        _create_topic(bootstrap, topics["spans_topic"], partitions)
        produce = produce_backlog(bootstrap, topics["spans_topic"], messages, spans)
        registry = CollectorRegistry()
        metrics = RuntimeMetrics(registry)
        config = RuntimeConfig(kafka={"bootstrap_servers": bootstrap, "group": run,
                                      "calls_partitions": calls_partitions, **topics},
                               state_dir=state_dir, metrics_port=None)
        def new_runtime() -> KafkaRuntime:
            return KafkaRuntime(config, detector_factory=detector_factory or Detector,
                                sink_factory=lambda topic, partition: CollectingSink(),
                                metrics=metrics, client_id=run)

        wall, cpu = time.perf_counter(), time.process_time()
        runtime = new_runtime()
        restarts = 0
        try:
            first: tuple[float, float] | None = None  # the turn that first decoded spans
            done = 0.0
            deadline = wall + timeout_s
            started = wall
            while time.perf_counter() < deadline:
                turn = (time.perf_counter(), time.process_time())
                runtime.run_once()
                done = registry.get_sample_value("swapwatch_calls_total") or 0.0
                if first is None and registry.get_sample_value("swapwatch_spans_total"):
                    first = turn
                if done >= calls:
                    break
                if (not done and runtime.spans is not None and not runtime.spans.assignment()
                        and time.perf_counter() - started > JOIN_STALL_S):
                    # kafka-python can leave a member of a new group without partitions
                    # (a rejoin after a first assignment made without the topic's metadata
                    # never completes): start over, and count it
                    runtime.close()
                    restarts += 1
                    runtime = new_runtime()
                    started = time.perf_counter()
                    first = None
            end_wall, end_cpu = time.perf_counter(), time.process_time()
            owned = [len(source.assignment()) if source is not None else 0
                     for source in (runtime.spans, runtime.calls)]
        finally:
            runtime.close()
        begin = first or (end_wall, end_cpu)
        return KafkaRun(
            spans=spans, calls=int(done), partitions=partitions,
            calls_partitions=calls_partitions, produce=produce,
            consume_total=Timing(spans, end_wall - wall, end_cpu - cpu, int(done)),
            consume_steady=Timing(spans, end_wall - begin[0], end_cpu - begin[1], int(done)),
            complete=done >= calls,
            spans_decoded=int(registry.get_sample_value("swapwatch_spans_total") or 0),
            spans_partitions_owned=owned[0], calls_partitions_owned=owned[1],
            restarts=restarts)
    finally:
        _delete_topics(bootstrap, list(topics.values()))
        shutil.rmtree(state_dir, ignore_errors=True)
