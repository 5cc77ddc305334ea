"""Typed configuration of the streaming runtime (Kafka, state, metrics)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RuntimeConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
