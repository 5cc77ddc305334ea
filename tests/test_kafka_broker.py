"""The real Apache Kafka broker of the test harness carries what swapwatch reads from it: OTLP
protobuf spans, consumer groups with manual commits, keyed partitioning, broker restarts."""

from __future__ import annotations

import doctest
import socket
import time
from collections import defaultdict
from collections.abc import Callable

import kafka_harness
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.partitioner.default import murmur2
from kafka.structs import OffsetAndMetadata
from kafka_harness import KafkaBroker, KafkaBrokerError
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

pytestmark = pytest.mark.kafka

WAIT_S = 30.0  # bound on every wait for records; a healthy broker answers in well under 1 s


def _producer(bootstrap: str) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)


def _consume(consumer: KafkaConsumer, count: int) -> list[ConsumerRecord]:
    """Poll until ``count`` records arrived (bounded by WAIT_S)."""
    records: list[ConsumerRecord] = []
    deadline = time.monotonic() + WAIT_S
    while len(records) < count and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
    return records


def _llm_spans(count: int) -> tuple[ReadableSpan, ...]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout-assistant"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("swapwatch.tests")
    for index in range(count):
        with tracer.start_as_current_span("chat gpt-4o-mini") as span:
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.request.model", "gpt-4o-mini")
            span.set_attribute("gen_ai.response.model", "gpt-4o-mini-2024-07-18")
            span.set_attribute("gen_ai.usage.output_tokens", 100 + index)
    provider.shutdown()
    return exporter.get_finished_spans()


def test_otlp_trace_requests_round_trip(kafka_bootstrap: str,
                                        kafka_topic: Callable[..., str]) -> None:
    topic = kafka_topic()
    spans = _llm_spans(6)
    # Two spans per message, keyed by trace id like the collector's partition_traces_by_id.
    requests = [encode_spans(spans[i:i + 2]) for i in range(0, len(spans), 2)]
    producer = _producer(kafka_bootstrap)
    for request in requests:
        trace_id = request.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()
        producer.send(topic, key=trace_id.encode(), value=request.SerializeToString())
    producer.flush()
    producer.close()

    consumer = KafkaConsumer(topic, bootstrap_servers=kafka_bootstrap,
                             auto_offset_reset="earliest", enable_auto_commit=False)
    try:
        records = _consume(consumer, len(requests))
    finally:
        consumer.close()

    decoded = [ExportTraceServiceRequest.FromString(record.value) for record in records]
    assert decoded == requests
    received = [span for request in decoded for resource in request.resource_spans
                for scope in resource.scope_spans for span in scope.spans]
    assert [span.span_id for span in received] == [
        s.context.span_id.to_bytes(8, "big") for s in spans]
    tokens = [next(a.value.int_value for a in span.attributes
                   if a.key == "gen_ai.usage.output_tokens") for span in received]
    assert tokens == [100, 101, 102, 103, 104, 105]
    service = decoded[0].resource_spans[0].resource.attributes
    assert any(a.key == "service.name" and a.value.string_value == "checkout-assistant"
               for a in service)


def test_consumer_group_resumes_from_committed_offset(kafka_bootstrap: str,
                                                      kafka_topic: Callable[..., str]) -> None:
    topic = kafka_topic()
    partition = TopicPartition(topic, 0)
    producer = _producer(kafka_bootstrap)
    for value in range(10):
        producer.send(topic, value=str(value).encode())
    producer.flush()
    producer.close()

    def group_member() -> KafkaConsumer:
        return KafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, group_id=f"{topic}-group",
                             enable_auto_commit=False, auto_offset_reset="earliest")

    first = group_member()
    try:
        seen = _consume(first, 4)[:4]
        assert [record.value for record in seen] == [b"0", b"1", b"2", b"3"]
        # Commit "the next record to read", i.e. the offset after the last one processed.
        first.commit({partition: OffsetAndMetadata(seen[-1].offset + 1, "", -1)})
        assert first.committed(partition) == 4
    finally:
        first.close(autocommit=False)

    second = group_member()
    try:
        rest = _consume(second, 6)
        assert second.committed(partition) == 4
    finally:
        second.close(autocommit=False)
    assert [record.value for record in rest] == [str(v).encode() for v in range(4, 10)]
    assert [record.offset for record in rest] == list(range(4, 10))


def test_keyed_records_land_on_one_partition_per_key(kafka_bootstrap: str,
                                                     kafka_topic: Callable[..., str]) -> None:
    partitions = 4
    topic = kafka_topic(partitions)
    keys = [f"checkout/gpt-4o-{n}".encode() for n in range(6)]
    producer = _producer(kafka_bootstrap)
    assert producer.partitions_for(topic) == set(range(partitions))
    sent_to: dict[bytes, set[int]] = defaultdict(set)
    futures = [(key, producer.send(topic, key=key, value=f"{key.decode()}#{i}".encode()))
               for i in range(5) for key in keys]
    for key, future in futures:
        sent_to[key].add(future.get(timeout=WAIT_S).partition)
    producer.close()

    # The Java client's rule (murmur2 of the key bytes), so a JVM producer agrees with us.
    expected = {key: (murmur2(key) & 0x7FFFFFFF) % partitions for key in keys}
    assert sent_to == {key: {expected[key]} for key in keys}
    assert len(set(expected.values())) > 1

    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False)
    consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
    try:
        records = _consume(consumer, len(futures))
    finally:
        consumer.close()
    by_key: dict[bytes, list[ConsumerRecord]] = defaultdict(list)
    for record in records:
        by_key[record.key].append(record)
    for key in keys:
        assert {record.partition for record in by_key[key]} == {expected[key]}
        # Within a key (one partition) the order of sending is kept.
        assert [record.value for record in by_key[key]] == [
            f"{key.decode()}#{i}".encode() for i in range(5)]


@pytest.mark.parametrize("kill", [False, True], ids=["clean-stop", "crash"])
def test_restart_keeps_address_and_data(kafka_broker: KafkaBroker,
                                        kafka_topic: Callable[..., str], kill: bool) -> None:
    bootstrap = kafka_broker.bootstrap
    topic = kafka_topic()
    producer = _producer(bootstrap)
    for value in (b"before-1", b"before-2"):
        producer.send(topic, value=value).get(timeout=WAIT_S)
    producer.close()

    try:
        kafka_broker.restart(kill=kill)
    except Exception:
        # Leave the shared broker up for the tests that follow (but not after Ctrl-C).
        kafka_broker.start()
        raise

    assert kafka_broker.bootstrap == bootstrap
    producer = _producer(bootstrap)
    producer.send(topic, value=b"after").get(timeout=WAIT_S)
    producer.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False)
    try:
        records = _consume(consumer, 3)
    finally:
        consumer.close()
    assert [record.value for record in records] == [b"before-1", b"before-2", b"after"]


def test_start_failure_names_the_cause() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        broker = KafkaBroker(port=taken, start_timeout_s=60)
        try:
            with pytest.raises(KafkaBrokerError) as failure:
                broker.start()
            assert not broker.running
        finally:
            broker.stop()
    message = str(failure.value)
    assert f"127.0.0.1:{taken}" in message
    assert "exited" in message
    assert "Address already in use" in message


def test_harness_docstring_examples() -> None:
    # The harness lives in tests/, out of reach of test_doctests.py; run its examples here.
    result = doctest.testmod(kafka_harness, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 3
    assert result.failed == 0
