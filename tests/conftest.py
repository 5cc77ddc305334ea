"""Shared pytest fixtures. Add small, clearly separated sections; keep them in their own modules."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from kafka_harness import KafkaBroker

# --- Apache Kafka ---------------------------------------------------------------------------
# One real broker per test session, started only when a test asks for it. It is stopped by the
# finalizer (also after failures and Ctrl-C, which pytest turns into a session teardown), by
# atexit, and by the parent-death signal if pytest itself is killed (see kafka_harness).
# kafka-python is imported only inside the fixtures, so sessions without Kafka tests skip it.

KAFKA_FIXTURES = frozenset({"kafka_broker", "kafka_bootstrap", "kafka_topic"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test that uses the broker is a kafka test even if its author forgot the marker, so
    # `pytest -m 'not kafka'` never starts a broker.
    for item in items:
        if KAFKA_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.kafka)


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaBroker]:
    """The session's Kafka broker; fault tests may ``restart()`` or ``halt()``/``start()`` it
    (ports and data stay), and must leave it running."""
    from kafka_harness import KafkaBroker

    broker = KafkaBroker()
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: KafkaBroker) -> str:
    """``"127.0.0.1:PORT"`` of the session's broker."""
    return kafka_broker.bootstrap


@pytest.fixture
def kafka_topic(
    kafka_bootstrap: str, request: pytest.FixtureRequest
) -> Iterator[Callable[..., str]]:
    """Factory: ``kafka_topic(partitions=1)`` creates a new, uniquely named topic and returns its
    name. The topics are deleted after the test."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError
    from kafka_harness import create_topic, topic_name

    created: list[str] = []

    def create(partitions: int = 1) -> str:
        name = topic_name(request.node.name, uuid.uuid4().hex[:8])
        create_topic(kafka_bootstrap, name, partitions)
        created.append(name)
        return name

    yield create
    if created:
        # Best effort: a test that left the broker down must not also fail in teardown.
        try:
            admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, bootstrap_timeout_ms=5000,
                                     request_timeout_ms=5000)
            try:
                admin.delete_topics(created, timeout_ms=5000)
            finally:
                admin.close()
        except KafkaError:
            pass
