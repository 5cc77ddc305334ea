"""Throughput of the Kafka deployment on this machine, end to end, with the real broker.

    .venv/bin/python tests/support/bench_runtime_kafka.py [--days 2] [--partitions 3]

1. collect: simulated fleet traffic (otlp_proto batches of up to 512 spans) POSTed over OTLP/HTTP to
   an in-process ``swapwatch collect`` receiver, acknowledged only once Kafka has it.
2. detect: ``KafkaRuntime`` (repartition + detection with the real ``Detector`` and an
   in-memory alert sink) consuming what step 1 produced, until every call is learned.
Prints spans/s for each step and for the whole path. Wall-clock timing, so run it on an idle
machine; the broker shares the cores.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kafka_harness import KafkaBroker, create_topic
from support.runtime_traffic import scenario_messages
from swapwatch.collector.config import CollectorConfig
from swapwatch.collector.filter import SpanRouter
from swapwatch.collector.producer import SpanProducer
from swapwatch.collector.receiver import OtlpReceiver, SpanIntake
from swapwatch.detector.detection.engine import Detector
from swapwatch.detector.runtime.config import RuntimeConfig
from swapwatch.detector.runtime.pipeline import CollectingSink
from swapwatch.detector.runtime.service import KafkaRuntime


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=float, default=2.0)
    parser.add_argument("--partitions", type=int, default=3)
    args = parser.parse_args()
    # what an SDK's BatchSpanProcessor sends: up to 512 spans, at least every few seconds of
    # (simulated) traffic
    traffic = scenario_messages("honest-failover", days=args.days, batch_size=512,
                                batch_window_s=120.0)
    spans = len(traffic.calls)
    print(f"traffic: {spans} LLM spans in {len(traffic.messages)} OTLP requests")
    with KafkaBroker() as broker:
        create_topic(broker.bootstrap, "otlp_spans", args.partitions)
        config = CollectorConfig(grpc_endpoint=None, http_endpoint="127.0.0.1:0",
                                 kafka={"bootstrap_servers": broker.bootstrap})
        producer = SpanProducer(config.kafka)
        receiver = OtlpReceiver(config, SpanIntake(SpanRouter(config), producer)).start()
        url = f"http://127.0.0.1:{receiver.http_port}/v1/traces"
        started = time.perf_counter()
        for body in traffic.messages:
            request = urllib.request.Request(url, data=body,
                                             headers={"Content-Type": "application/x-protobuf"})
            urllib.request.urlopen(request, timeout=60).read()
        collect_s = time.perf_counter() - started
        receiver.stop()
        producer.close()

        runtime = KafkaRuntime(
            RuntimeConfig(kafka={"bootstrap_servers": broker.bootstrap, "calls_partitions": 4},
                          state_dir=Path(tempfile.mkdtemp()), metrics_port=None),
            detector_factory=Detector, sink_factory=lambda t, p: CollectingSink())
        started = time.perf_counter()
        deadline = started + 600
        while time.perf_counter() < deadline:
            runtime.run_once()
            seen = sum(o.state.detector.calls_seen for o in runtime.detection.owned.values())
            if seen >= spans:
                break
        detect_s = time.perf_counter() - started
        runtime.close()
    print(f"collect (OTLP/HTTP -> Kafka, acks=all, one client): {spans / collect_s:,.0f} spans/s")
    print(f"detect (Kafka -> repartition -> Kafka -> detection): {spans / detect_s:,.0f} spans/s")
    print(f"end to end through Kafka: {spans / (collect_s + detect_s):,.0f} spans/s "
          f"({spans} spans in {collect_s + detect_s:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
