"""Typed configuration of ingest: where surface and tenant are read from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class IngestConfig(BaseModel):
    """Attribute precedence lists; the first attribute present (span, then resource) wins."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    surface_attributes: list[str] = Field(
        default_factory=lambda: [
            "swapwatch.surface",
            "gen_ai.agent.name",
            "traceloop.workflow.name",
            "http.route",
            "service.name",
        ]
    )
    tenant_attributes: list[str] = Field(
        default_factory=lambda: ["swapwatch.tenant", "tenant.id", "enduser.id"]
    )
