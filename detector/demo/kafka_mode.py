"""``swapwatch demo --kafka BOOTSTRAP``: the same run with a real broker between collector and
detection: ``swapwatch collect``'s Kafka producer → ``otlp_spans`` → the detector's consumer
groups (repartition, detect), exactly as deployed. Topics and groups are named after the run,
so runs never read each other's spans. Every key of a provider shares a calls partition
(``partition_by: provider``), so provider incidents are judged with all their peer keys.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient
from kafka.errors import TopicAlreadyExistsError
from swapwatch.collector.config import ProducerConfig
from swapwatch.collector.producer import SpanProducer
from swapwatch.detector.alerts.config import AlertsConfig
from swapwatch.detector.alerts.dispatcher import AlertDispatcher
from swapwatch.detector.demo.tap import LiveState, ObservedDetector
from swapwatch.detector.detection.config import DetectionConfig
from swapwatch.detector.detection.engine import Detector
from swapwatch.detector.ingest.config import IngestConfig
from swapwatch.detector.runtime.config import KafkaRuntimeConfig, RuntimeConfig
from swapwatch.detector.runtime.service import KafkaRuntime

log = logging.getLogger(__name__)

SPANS_PARTITIONS = 2
CALLS_PARTITIONS = 2


def create_topic(bootstrap: str, name: str, partitions: int, timeout_s: float = 30.0) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="swapwatch-demo",
                             request_timeout_ms=int(timeout_s * 1000))
    try:
        admin.create_topics({name: {"num_partitions": partitions, "replication_factor": 1}},
                            timeout_ms=int(timeout_s * 1000), wait_for_metadata=True)
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()


class KafkaDetection:
    """Detection as a Kafka consumer group on a thread; the collector's sink is :attr:`sink`."""

    def __init__(self, bootstrap: str, run_id: str, detection: DetectionConfig,
                 alerts: AlertsConfig, ingest: IngestConfig, state_dir: Path,
                 live: LiveState) -> None:
        spans_topic = f"swapwatch-demo-{run_id}-spans"
        create_topic(bootstrap, spans_topic, SPANS_PARTITIONS)
        self.sink = SpanProducer(ProducerConfig(bootstrap_servers=bootstrap, topic=spans_topic))
        self.detectors: list[ObservedDetector] = []
        self.dispatchers: list[AlertDispatcher] = []
        config = RuntimeConfig(
            kafka=KafkaRuntimeConfig(
                bootstrap_servers=bootstrap, spans_topic=spans_topic,
                calls_topic=f"swapwatch-demo-{run_id}-calls", calls_partitions=CALLS_PARTITIONS,
                dead_letter_topic=f"swapwatch-demo-{run_id}-dead", group=f"swapwatch-demo-{run_id}",
                partition_by="provider"),
            state_dir=state_dir / "kafka", metrics_port=None, checkpoint_interval_s=2.0)

        def detector() -> ObservedDetector:
            made = ObservedDetector(Detector(detection), live)
            self.detectors.append(made)
            return made

        def dispatcher(topic: str, partition: int) -> AlertDispatcher:
            made = AlertDispatcher(alerts, state_dir / "alerts" / f"{topic}-{partition}")
            self.dispatchers.append(made)
            return made

        factory: Callable[[], Any] = detector
        self.runtime = KafkaRuntime(config, detector_factory=factory, sink_factory=dispatcher,
                                    ingest=ingest, client_id=f"swapwatch-demo-{run_id}")
        self._thread = threading.Thread(target=self.runtime.run, name="swapwatch-demo-kafka",
                                        daemon=True)

    def start(self) -> KafkaDetection:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop consuming; end of input for every partition's detector; checkpoint; leave."""
        self.runtime.stop()
        self._thread.join(timeout=60)
        for owned in list(self.runtime.detection.owned.values()):
            owned.pipeline.finish()
            drain = getattr(owned.pipeline.alerts, "drain", None)
            if callable(drain):
                drain()
        self.runtime.close()
        self.sink.close()

    def ledgers(self) -> list[Any]:
        return [row for d in self.detectors for row in d.ledgers()]
