"""The ``--kafka`` mode of ``swapwatch detect``: flags, wiring, signals.

    swapwatch detect --kafka localhost:9092 [--topic otlp_spans] [--group swapwatch]
                     [--state-dir DIR] [--alerts-out alerts.jsonl] [--metrics-port 9464]
                     [--stage both|repartition|detect]
"""

from __future__ import annotations

import argparse
import logging
import signal
from pathlib import Path
from typing import Any

from swapwatch.detector.config import SwapwatchConfig
from swapwatch.detector.runtime.config import RuntimeConfig

log = logging.getLogger("swapwatch.detect")


def add_kafka_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("streaming from Kafka")
    group.add_argument("--kafka", metavar="BOOTSTRAP",
                       help="consume spans from Kafka (instead of --input) as a consumer group")
    group.add_argument("--topic", help="spans topic (default otlp_spans)")
    group.add_argument("--group", help="consumer group (default swapwatch)")
    group.add_argument("--state-dir", type=Path, help="per-partition detector state")
    group.add_argument("--metrics-port", type=int,
                       help="Prometheus /metrics and /healthz port (0: any free port)")
    group.add_argument("--stage", choices=["both", "repartition", "detect"], default="both",
                       help="run one stage only, to scale the stages apart")


def runtime_config(base: RuntimeConfig, args: argparse.Namespace) -> RuntimeConfig:
    """``base`` (from the config file) with the command-line flags applied."""
    kafka: dict[str, Any] = {"bootstrap_servers": args.kafka}
    if args.topic:
        kafka["spans_topic"] = args.topic
    if args.group:
        kafka["group"] = args.group
    update: dict[str, Any] = {"kafka": base.kafka.model_copy(update=kafka)}
    if args.state_dir is not None:
        update["state_dir"] = args.state_dir
    if args.metrics_port is not None:
        update["metrics_port"] = args.metrics_port
    return RuntimeConfig.model_validate({**base.model_dump(), **update})


def run_kafka(args: argparse.Namespace, config: SwapwatchConfig) -> int:
    from swapwatch.detector.alerts.config import JsonlConfig
    from swapwatch.detector.alerts.dispatcher import AlertDispatcher
    from swapwatch.detector.detection.engine import Detector
    from swapwatch.detector.runtime.service import KafkaRuntime, Stage

    logging.basicConfig(level=logging.INFO,
                        format='{"ts":"%(asctime)s","level":"%(levelname)s",'
                               '"logger":"%(name)s","msg":"%(message)s"}')
    runtime = runtime_config(config.runtime, args)
    alerts = config.alerts
    out = getattr(args, "alerts_out", None)
    if out and (out != "-" or alerts.jsonl is None):
        alerts = alerts.model_copy(update={"jsonl": JsonlConfig(path=out)})

    def sink_for(topic: str, partition: int) -> AlertDispatcher:
        # the notification log moves with the partition: one owner at a time
        return AlertDispatcher(alerts, runtime.state_dir / "alerts" / f"{topic}-{partition}")

    stages: tuple[Stage, ...] = (("repartition", "detect") if args.stage == "both"
                                 else (args.stage,))
    service = KafkaRuntime(runtime, detector_factory=lambda: Detector(config.detection),
                           sink_factory=sink_for, ingest=config.ingest, stages=stages)
    if service.server is not None:
        log.info("metrics on http://%s:%d/metrics", runtime.metrics_host, service.server.port)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: service.stop())
    try:
        service.run()
    finally:
        service.close()
    return 0
