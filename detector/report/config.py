"""``ReportConfig``: how much a report keeps and shows (defaults live here, nowhere else).

Every bound of the report is here, so that a month of traffic over dozens of keys stays a
file of a few megabytes: at most ``max_points`` time buckets per chart (buckets widen as the
span grows), ``max_keys`` series keys, ``max_values`` named categories per chart (rarer ones
count as ``(other)``), ``max_days`` days of the daily model-share report.

>>> ReportConfig().max_points
240
>>> ReportConfig(max_points=1)
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for ReportConfig
max_points
  Input should be greater than or equal to 8 ...
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ReportConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_points: int = Field(
        240, ge=8, le=5000,
        description="Time buckets per chart at most; the bucket width doubles when exceeded.",
    )
    base_bucket_s: int = Field(
        300, ge=1, le=86_400,
        description="The narrowest time bucket (seconds); short inputs use this width.",
    )
    min_calls_per_point: int = Field(
        12, ge=1, le=10_000,
        description="A quiet key's chart merges buckets until a point holds about this many "
        "calls (its medians mean something); busy keys keep full detail.",
    )
    max_keys: int = Field(64, ge=1, le=10_000, description="Series keys charted at most.")
    max_values: int = Field(
        8, ge=1, le=32,
        description="Served models, fingerprints, finish reasons named per key; rarer: (other).",
    )
    max_days: int = Field(
        62, ge=1, le=3660, description="Days kept by the daily model-share report (newest)."
    )
    max_surfaces: int = Field(
        64, ge=1, le=10_000, description="Surfaces in the model-share report; more: (other)."
    )
    max_alerts: int = Field(500, ge=0, description="Alerts marked and listed, newest kept.")
