"""Typed configuration of the streaming runtime (Kafka, state, metrics).

Defaults live here and nowhere else. Two stages run on Kafka (see ``docs`` in
:mod:`swapwatch.detector.runtime.service`): *repartition* reads ``spans_topic`` in any keying
and writes compact call records to ``calls_topic`` keyed by series key; *detect* reads
``calls_topic`` so that every key's state lives in exactly one partition.

>>> cfg = RuntimeConfig()
>>> (cfg.kafka.spans_topic, cfg.kafka.calls_topic, cfg.kafka.group)
('otlp_spans', 'swapwatch_calls', 'swapwatch')
>>> RuntimeConfig(kafka={"calls_partitions": 0})
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for RuntimeConfig
...
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PartitionBy = Literal["series", "provider"]


class KafkaRuntimeConfig(BaseModel):
    """Where the detector reads and writes on Kafka."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bootstrap_servers: str = "localhost:9092"
    spans_topic: str = "otlp_spans"
    # internal topic of compact LlmCall records keyed by the partitioning key
    calls_topic: str = "swapwatch_calls"
    calls_partitions: int = Field(default=12, ge=1)
    dead_letter_topic: str = "swapwatch_dead_letters"
    group: str = "swapwatch"
    # "series": one partition per series key (scales with keys; peer-key comparison for
    # provider incidents sees the keys that share a partition). "provider": every key of a
    # provider in one partition (exact incident correlation, scales with providers only).
    partition_by: PartitionBy = "series"
    max_poll_records: int = Field(default=500, ge=1)
    session_timeout_ms: int = Field(default=10_000, ge=1000)
    heartbeat_interval_ms: int = Field(default=1_000, ge=100)
    max_poll_interval_ms: int = Field(default=120_000, ge=1000)
    # producer (repartition stage, dead letters): nothing lost
    delivery_timeout_ms: int = Field(default=30_000, ge=1000)
    request_timeout_ms: int = Field(default=10_000, ge=1000)
    replication_factor: int = Field(default=1, ge=1)
    # how long a flush waits for the broker before the stage rewinds and tries again
    flush_timeout_s: float = Field(default=60.0, gt=0)
    # repartition merges its spans partitions in event time (a backlog read partition by
    # partition would otherwise reach detection hours out of order): calls wait until every
    # partition still catching up has passed their time, at most this many of them
    max_held_calls: int = Field(default=100_000, ge=1)
    # a partition that delivered nothing for this long is idle and holds nobody back
    # (Kafka Streams' max.task.idle.ms): an empty partition never reports where it stands
    max_partition_idle_s: float = Field(default=2.0, ge=0)
    # per partition and fetch of the calls topic: what detection takes in between two looks
    # at whether a checkpoint is due (a few hundred calls per 100 KB)
    max_partition_fetch_bytes: int = Field(default=256 * 1024, ge=1024)
    # per partition and fetch of the spans topic: smaller keeps partitions closer in event
    # time (the event-time merge reorders what one fetch brings), larger takes fewer turns of
    # the loop per span, each of which costs kafka-python hand-offs to its IO thread
    spans_partition_fetch_bytes: int = Field(default=1024 * 1024, ge=1024)
    # the repartition stage flushes its calls and commits its spans offsets at most this
    # often (a flush waits for the broker's acks): a crash redoes at most this much work,
    # whose calls the detect stage's dedup window drops
    commit_interval_s: float = Field(default=1.0, ge=0)


class RuntimeConfig(BaseModel):
    """Streaming runtime: Kafka, per-partition state, checkpoints, metrics."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kafka: KafkaRuntimeConfig = Field(default_factory=KafkaRuntimeConfig)
    # one file per calls-topic partition (atomic rename); shared by the consumers of a group
    state_dir: Path = Path("swapwatch-state")
    # checkpoint (flush alerts -> persist state -> commit offsets) after this many calls or
    # this many seconds of processing, whichever comes first
    checkpoint_every_calls: int = Field(default=5_000, ge=1)
    checkpoint_interval_s: float = Field(default=10.0, gt=0)
    # recent (trace id, span id) pairs remembered per partition to drop redelivered calls
    dedup_window: int = Field(default=100_000, ge=0)
    metrics_host: str = "127.0.0.1"
    # 0 picks a free port; None disables the endpoint
    metrics_port: int | None = 9464
