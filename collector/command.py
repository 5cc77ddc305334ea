"""``swapwatch collect``: receive OTLP, keep the LLM spans, produce them to Kafka.

    swapwatch collect --kafka localhost:9092            # gRPC :4317, HTTP :4318
    swapwatch collect --kafka k:9092 --grpc 127.0.0.1:4317 --http none --key-by trace_id

Settings come from the ``collect:`` section of ``--config`` (a YAML file holding a
:class:`~swapwatch.collector.config.CollectorConfig`); flags override it.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from typing import Any

import yaml
from swapwatch.collector.config import CollectorConfig
from swapwatch.collector.filter import SpanRouter
from swapwatch.collector.producer import SpanProducer
from swapwatch.collector.receiver import OtlpReceiver, SpanIntake

log = logging.getLogger("swapwatch.collect")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="YAML file with a 'collect:' section")
    parser.add_argument("--kafka", metavar="BOOTSTRAP", help="Kafka bootstrap servers")
    parser.add_argument("--topic", help="topic to produce to (default otlp_spans)")
    parser.add_argument("--grpc", metavar="HOST:PORT",
                        help="OTLP/gRPC endpoint (default 0.0.0.0:4317; 'none' disables)")
    parser.add_argument("--http", metavar="HOST:PORT",
                        help="OTLP/HTTP endpoint (default 0.0.0.0:4318; 'none' disables)")
    parser.add_argument("--key-by", choices=["series", "trace_id", "none"])
    parser.add_argument("--keep", choices=["llm", "all"], help="which spans to forward")
    parser.add_argument("--log-level", default="INFO")


def config_from_args(args: argparse.Namespace) -> CollectorConfig:
    data: dict[str, Any] = {}
    if args.config is not None:
        loaded = yaml.safe_load(args.config.read_text()) or {}
        data = dict(loaded.get("collect", {}))
    kafka = dict(data.get("kafka", {}))
    if args.kafka:
        kafka["bootstrap_servers"] = args.kafka
    if args.topic:
        kafka["topic"] = args.topic
    data["kafka"] = kafka
    for flag, name in (("grpc", "grpc_endpoint"), ("http", "http_endpoint")):
        value = getattr(args, flag)
        if value is not None:
            data[name] = None if value.lower() == "none" else value
    if args.key_by:
        data["key_by"] = args.key_by
    if args.keep:
        data["keep"] = args.keep
    return CollectorConfig.model_validate(data)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(),
                        format='{"ts":"%(asctime)s","level":"%(levelname)s",'
                               '"logger":"%(name)s","msg":"%(message)s"}')
    config = config_from_args(args)
    producer = SpanProducer(config.kafka)
    receiver = OtlpReceiver(config, SpanIntake(SpanRouter(config), producer)).start()
    print(f"swapwatch collect: gRPC {receiver.grpc_port}, HTTP {receiver.http_port} -> "
          f"{config.kafka.bootstrap_servers}/{config.kafka.topic}", flush=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    log.info("stopping: draining in-flight exports")
    receiver.stop()
    producer.close()
    return 0
