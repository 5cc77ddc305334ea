"""``swapwatch collect`` against the real broker: real OTLP exporters in, otlp_proto out,
retryable refusals while Kafka is down, and nothing acknowledged ever lost."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from kafka import KafkaConsumer
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from swapwatch.collector.config import CollectorConfig
from swapwatch.collector.filter import SpanRouter
from swapwatch.collector.producer import SpanProducer
from swapwatch.collector.receiver import OtlpReceiver, SpanIntake

pytestmark = pytest.mark.kafka


@pytest.fixture
def collector(kafka_bootstrap: str, kafka_topic: Callable[..., str]) -> Iterator[OtlpReceiver]:
    config = CollectorConfig(
        grpc_endpoint="127.0.0.1:0", http_endpoint="127.0.0.1:0", retry_after_s=2,
        kafka={"bootstrap_servers": kafka_bootstrap, "topic": kafka_topic(3),
               "ack_timeout_s": 3.0, "delivery_timeout_ms": 20_000,
               "request_timeout_ms": 5_000})
    producer = SpanProducer(config.kafka)
    receiver = OtlpReceiver(config, SpanIntake(SpanRouter(config), producer)).start()
    try:
        yield receiver
    finally:
        receiver.stop()
        producer.close()


def _llm_spans(count: int, surface: str = "chat", service: str = "shop") -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    for i in range(count):
        with tracer.start_as_current_span("chat gpt-4o", attributes={
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o" if i % 2 else "gpt-4o-mini",
                "swapwatch.surface": surface}):
            pass
        with tracer.start_as_current_span("GET /health"):  # not an LLM call: filtered out
            pass
    return list(memory.get_finished_spans())


def _consume(receiver: OtlpReceiver, want: int, timeout_s: float = 30.0) -> list[Any]:
    consumer = KafkaConsumer(receiver.config.kafka.topic,
                             bootstrap_servers=receiver.config.kafka.bootstrap_servers,
                             auto_offset_reset="earliest", consumer_timeout_ms=2000)
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and sum(_count(r) for r in records) < want:
            records.extend(consumer)
    finally:
        consumer.close()
    return records


def _count(record: Any) -> int:
    msg = ExportTraceServiceRequest.FromString(record.value)
    return sum(len(ss.spans) for rs in msg.resource_spans for ss in rs.scope_spans)


def _span_ids(records: list[Any]) -> set[str]:
    ids = set()
    for record in records:
        msg = ExportTraceServiceRequest.FromString(record.value)
        ids.update(s.span_id.hex() for rs in msg.resource_spans for ss in rs.scope_spans
                   for s in ss.spans)
    return ids


def test_real_otlp_exporters_land_llm_spans_in_kafka_keyed_by_series(
        collector: OtlpReceiver) -> None:
    grpc_exporter = GrpcSpanExporter(endpoint=f"127.0.0.1:{collector.grpc_port}", insecure=True)
    http_exporter = HttpSpanExporter(
        endpoint=f"http://127.0.0.1:{collector.http_port}/v1/traces")
    assert grpc_exporter.export(_llm_spans(4, surface="a")) == SpanExportResult.SUCCESS
    assert http_exporter.export(_llm_spans(4, surface="b")) == SpanExportResult.SUCCESS
    grpc_exporter.shutdown()
    http_exporter.shutdown()

    records = _consume(collector, want=8)
    assert sum(_count(r) for r in records) == 8  # the 8 health-check spans were filtered out
    partitions_of: dict[bytes, set[int]] = {}
    for record in records:
        partitions_of.setdefault(record.key, set()).add(record.partition)
    assert set(partitions_of) == {b"shop|a|openai|gpt-4o|-", b"shop|a|openai|gpt-4o-mini|-",
                                  b"shop|b|openai|gpt-4o|-", b"shop|b|openai|gpt-4o-mini|-"}
    assert all(len(p) == 1 for p in partitions_of.values())
    sample = ExportTraceServiceRequest.FromString(records[0].value)
    names = {kv.key for kv in sample.resource_spans[0].resource.attributes}
    assert "service.name" in names  # the resource travels with its spans


def test_bad_payload_gets_400_with_a_reason(collector: OtlpReceiver) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{collector.http_port}/v1/traces",
                                     data=b"\x0a\xff\xff",
                                     headers={"Content-Type": "application/x-protobuf"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=10)
    assert err.value.code == 400
    status = status_pb2.Status.FromString(err.value.read())
    assert "not an OTLP ExportTraceServiceRequest" in status.message


def _post(receiver: OtlpReceiver, spans: list[ReadableSpan]) -> tuple[int, str | None]:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    request = urllib.request.Request(
        f"http://127.0.0.1:{receiver.http_port}/v1/traces",
        data=encode_spans(spans).SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, None
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Retry-After")


def test_broker_restart_refuses_retryably_and_loses_nothing_acknowledged(
        collector: OtlpReceiver, kafka_broker: Any) -> None:
    acknowledged: set[str] = set()
    refusals: list[tuple[int, str | None]] = []

    def send_batch() -> None:
        spans = _llm_spans(3)
        status, retry_after = _post(collector, spans)
        if status == 200:
            acknowledged.update(format(s.context.span_id, "016x") for s in spans
                                if s.attributes and "gen_ai.request.model" in s.attributes)
        else:
            refusals.append((status, retry_after))

    for _ in range(5):
        send_batch()
    kafka_broker.halt()
    try:
        send_batch()  # HTTP: 503 + Retry-After
        stub = trace_service_pb2_grpc.TraceServiceStub(
            grpc.insecure_channel(f"127.0.0.1:{collector.grpc_port}"))
        request = ExportTraceServiceRequest()
        span = request.resource_spans.add().scope_spans.add().spans.add(
            name="chat", span_id=b"\x01" * 8, trace_id=b"\x02" * 16,
            start_time_unix_nano=1, end_time_unix_nano=2)
        span.attributes.add(key="gen_ai.request.model", value=AnyValue(string_value="gpt-4o"))
        with pytest.raises(grpc.RpcError) as err:
            stub.Export(request, timeout=20)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        details = dict(err.value.trailing_metadata() or ())["grpc-status-details-bin"]
        retry = error_details_pb2.RetryInfo()
        assert status_pb2.Status.FromString(details).details[0].Unpack(retry)
        assert retry.retry_delay.seconds == 2
    finally:
        kafka_broker.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(acknowledged) < 30:  # a client retrying
        send_batch()
    assert (503, "2") in refusals
    assert len(acknowledged) >= 30
    assert acknowledged <= _span_ids(_consume(collector, want=len(acknowledged), timeout_s=60))
