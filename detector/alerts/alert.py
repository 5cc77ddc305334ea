"""The alert record that detection emits and every destination receives.

>>> from datetime import datetime, timezone
>>> t = datetime(2026, 3, 2, 14, 5, tzinfo=timezone.utc)
>>> a = Alert(kind="swap", key=AlertKey(service="api", surface="autocomplete",
...           provider="openai", request_model="gpt-4o", environment="prod"),
...           signals=["decode_rate", "output_tokens", "cost"], detected_at=t, changed_at=t,
...           summary="gpt-4o on autocomplete: 3 signals shifted")
>>> a.dedup_key
'swap/api/autocomplete/openai/gpt-4o/prod'
>>> Alert.model_validate_json(a.model_dump_json()) == a
True
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

AlertKind = Literal["swap", "identity", "incident", "divergence"]
AlertStatus = Literal["firing", "resolved"]


class AlertKey(BaseModel):
    """The series an alert is about. For an ``incident`` only ``provider`` may be set."""

    model_config = ConfigDict(frozen=True)

    service: str | None = None
    surface: str | None = None
    provider: str | None = None
    request_model: str | None = None
    environment: str | None = None
    tenant: str | None = None

    def labels(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v is not None}

    def slug(self) -> str:
        parts = [self.service, self.surface, self.provider, self.request_model, self.environment]
        if self.tenant:
            parts.append(self.tenant)
        return "/".join(p or "-" for p in parts)


class Alert(BaseModel):
    """One alert as written to ``--alerts-out`` (one JSON object per line)."""

    model_config = ConfigDict(frozen=True)

    kind: AlertKind
    status: AlertStatus = "firing"
    key: AlertKey
    signals: list[str] = Field(default_factory=list)
    detected_at: datetime
    changed_at: datetime
    summary: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    dedup_key: str = ""
    # how many calls of the key arrived between changed_at and detected_at
    delay_requests: int | None = None
    severity: Literal["critical", "error", "warning", "info"] = "error"

    @model_validator(mode="after")
    def _default_dedup_key(self) -> Alert:
        if not self.dedup_key:
            # frozen model: set through __dict__ once, at construction
            self.__dict__["dedup_key"] = f"{self.kind}/{self.key.slug()}"[:255]
        return self

    def to_json_line(self) -> str:
        return self.model_dump_json()
