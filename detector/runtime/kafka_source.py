"""A kafka-python consumer in a group: manual commits, cooperative rebalancing.

Rebalance callbacks run inside ``poll()`` (kafka-python drives the group protocol from the
polling thread and runs the listener on its IO loop while ``poll`` waits), so they never race
the processing done between polls. They must stay short: they checkpoint the partitions being
given up (a local file write) and never commit to Kafka from inside the callback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata
from swapwatch.detector.runtime.config import KafkaRuntimeConfig
from swapwatch.detector.runtime.partitions import Record

log = logging.getLogger(__name__)
PartitionsCallback = Callable[[list[TopicPartition]], None]
_METADATA_WAIT_S = 15.0
_FIRST_ASSIGNMENT_WAIT_S = 20.0


class _Listener(ConsumerRebalanceListener):
    def __init__(self, source: GroupSource) -> None:
        self.source = source

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.source._call("revoked", sorted(revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.source._call("assigned", sorted(assigned))

    def on_partitions_lost(self, lost: Any) -> None:
        self.source._call("lost", sorted(lost))


class GroupSource:
    """One topic consumed as a member of ``group``; the owner reacts to partition changes."""

    def __init__(self, config: KafkaRuntimeConfig, topic: str, group: str, *,
                 on_assigned: PartitionsCallback, on_revoked: PartitionsCallback,
                 on_lost: PartitionsCallback, client_id: str = "swapwatch-detect",
                 fetch_bytes: int | None = None) -> None:
        self.topic = topic
        self._callbacks = {"assigned": on_assigned, "revoked": on_revoked, "lost": on_lost}
        self.callback_error: BaseException | None = None
        self.consumer = KafkaConsumer(
            bootstrap_servers=config.bootstrap_servers,
            group_id=group,
            client_id=client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            partition_assignment_strategy=[CooperativeStickyAssignor],
            max_poll_records=config.max_poll_records,
            session_timeout_ms=config.session_timeout_ms,
            heartbeat_interval_ms=config.heartbeat_interval_ms,
            max_poll_interval_ms=config.max_poll_interval_ms,
            request_timeout_ms=max(config.request_timeout_ms, config.session_timeout_ms + 5000),
            isolation_level="read_committed",
            reconnect_backoff_max_ms=2000,
            max_partition_fetch_bytes=fetch_bytes or config.max_partition_fetch_bytes,
        )
        # Join the group only once the topic's metadata is known: kafka-python 3.0 can otherwise
        # make its first assignment without the topic's partitions and never complete the
        # rejoin (seen on freshly created topics). Bounded: a topic that does not exist yet is
        # subscribed to anyway and picked up when it appears.
        deadline = time.monotonic() + _METADATA_WAIT_S
        while not self.consumer.partitions_for_topic(topic) and time.monotonic() < deadline:
            time.sleep(0.2)
        self._subscribed_at = time.monotonic()
        self._rejoined = False
        self.consumer.subscribe([topic], listener=_Listener(self))

    def _rejoin_if_never_assigned(self) -> None:
        """Once, if the first join left this member with nothing although the topic has
        partitions, leave and join again (the same kafka-python start-up race)."""
        if self._rejoined or self.consumer.assignment():
            self._rejoined = True
            return
        if time.monotonic() - self._subscribed_at < _FIRST_ASSIGNMENT_WAIT_S:
            return
        self._rejoined = True
        if self.consumer.partitions_for_topic(self.topic):
            log.warning("no partitions of %s assigned after %.0f s; joining the group again",
                        self.topic, _FIRST_ASSIGNMENT_WAIT_S)
            self.consumer.unsubscribe()
            self.consumer.subscribe([self.topic], listener=_Listener(self))

    def _call(self, what: str, tps: list[TopicPartition]) -> None:
        try:
            self._callbacks[what](tps)
        except BaseException as err:  # surfaced by poll(), never lost in the IO loop
            log.exception("%s callback failed for %s", what, tps)
            self.callback_error = err

    def poll(self, timeout_ms: int) -> dict[TopicPartition, list[Record]]:
        batches = self.consumer.poll(timeout_ms=timeout_ms)
        if not self._rejoined:
            self._rejoin_if_never_assigned()
        if self.callback_error is not None:
            err, self.callback_error = self.callback_error, None
            raise err
        return {tp: [Record(r.offset, r.key, r.value) for r in records]
                for tp, records in batches.items()}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.consumer.seek(tp, offset)

    def assignment(self) -> set[TopicPartition]:
        return set(self.consumer.assignment())

    def commit(self, offsets: dict[TopicPartition, int]) -> bool:
        """Commit; ``False`` (logged) when the group moved on, which the state file covers."""
        owned = self.assignment()
        wanted = {tp: OffsetAndMetadata(off, "", -1) for tp, off in offsets.items()
                  if tp in owned}
        if not wanted:
            return True
        try:
            self.consumer.commit(wanted)
            return True
        except KafkaError as err:
            log.warning("offset commit failed (%s); the state files keep the position", err)
            return False

    def at_end(self, tp: TopicPartition, position: int | None = None) -> bool:
        """Whether ``tp`` has nothing left to read as far as the last fetch knows (no I/O)."""
        high = self.consumer.highwater(tp)
        if position is None:
            try:  # the fetch position, without the network round trip position() may take
                known = self.consumer._subscription.position(tp)
                position = None if known is None else known.offset
            except (KeyError, AttributeError):
                position = None
        return high is not None and position is not None and position >= high

    def lag(self, positions: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        """Records behind the end for the given next-to-process offsets, from the fetcher's
        last-seen high water marks (no I/O)."""
        out = {}
        for tp, position in positions.items():
            high = self.consumer.highwater(tp)
            if high is not None:
                out[tp] = max(0, high - position)
        return out

    def close(self) -> None:
        self.consumer.close(autocommit=False)


def durable_producer(bootstrap: str, client_id: str, *, delivery_timeout_ms: int,
                     request_timeout_ms: int) -> KafkaProducer:
    """The producer of the runtime (repartition, dead letters): acks=all, idempotent.

    Batches of up to 512 KB per partition: a calls record (a few hundred calls) is tens of KB,
    above the 16 KB default, which made every send open a new batch and wake the sender's IO
    thread; with room for several records, one produce request carries a turn's calls. (Half
    the broker's default ``message.max.bytes``, which a batch must stay under.)"""
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        batch_size=512 * 1024,
        delivery_timeout_ms=delivery_timeout_ms,
        request_timeout_ms=request_timeout_ms,
        max_request_size=8 * 1024 * 1024,
        reconnect_backoff_max_ms=2000,
    )
