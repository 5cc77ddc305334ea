"""Typed configuration of detection (series keys, learners, correlation)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class DetectionConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
