"""Typed configuration of ``swapwatch collect`` (defaults here and nowhere else).

>>> cfg = CollectorConfig()
>>> (cfg.grpc_endpoint, cfg.http_endpoint, cfg.kafka.topic, cfg.key_by)
('0.0.0.0:4317', '0.0.0.0:4318', 'otlp_spans', 'series')
>>> CollectorConfig(grpc_endpoint="nohost")
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for CollectorConfig
grpc_endpoint
  Value error, expected HOST:PORT, got 'nohost' ...
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# series: every call of one series on one partition (what the detector wants);
# trace_id / none: what the Collector's kafka exporter does (partition_traces_by_id / default)
KeyBy = Literal["series", "trace_id", "none"]
# llm: spans that record a model call (any attribute dialect); all: every span
Keep = Literal["llm", "all"]


class ProducerConfig(BaseModel):
    """Kafka producer settings that lose nothing, with a bounded buffer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bootstrap_servers: str = "localhost:9092"
    topic: str = "otlp_spans"
    # bytes produced but not yet acknowledged by the broker; beyond this, clients get
    # "unavailable, retry later" instead of the collector buffering without bound
    max_pending_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    # how long one export waits for the broker's acknowledgement before answering "retry"
    ack_timeout_s: float = Field(default=10.0, gt=0)
    delivery_timeout_ms: int = Field(default=30_000, ge=1000)
    request_timeout_ms: int = Field(default=10_000, ge=1000)
    linger_ms: int = Field(default=5, ge=0)
    compression_type: Literal["gzip", "lz4", "zstd", "snappy"] | None = None
    max_request_size: int = Field(default=8 * 1024 * 1024, ge=1024)


class CollectorConfig(BaseModel):
    """``swapwatch collect``: OTLP in (gRPC and HTTP), LLM spans out to Kafka."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    grpc_endpoint: str | None = "0.0.0.0:4317"
    http_endpoint: str | None = "0.0.0.0:4318"
    kafka: ProducerConfig = Field(default_factory=ProducerConfig)
    key_by: KeyBy = "series"
    keep: Keep = "llm"
    # spans carrying any attribute with one of these prefixes are kept too (keep: llm)
    also_keep_attribute_prefixes: list[str] = Field(default_factory=list)
    # the Retry-After a refused client is told, in seconds
    retry_after_s: int = Field(default=5, ge=1)
    max_request_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    grpc_workers: int = Field(default=8, ge=1)

    @field_validator("grpc_endpoint", "http_endpoint")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError(f"expected HOST:PORT, got {value!r}")
        return value
