"""Typed configuration of ingest: where surface and tenant are read from, and cost.

There is no standard attribute for a product surface or a tenant, so each is read from a
precedence list: for each entry in order, the span's attribute, then the resource's; the first
present wins. An entry ``root_span.<attribute>`` reads the attribute from the root span of the
same trace when that span arrives in the same message, and ``root_span.name`` its name (the
root span is never the call's own span).

>>> cfg = IngestConfig(tenant_attributes=["org.id"])
>>> cfg.tenant_attributes
['org.id']
>>> IngestConfig(surface_attributes=["root_span."])
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for IngestConfig
...
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator
from swapwatch.detector.ingest import attributes

ROOT_SPAN_PREFIX = "root_span."


class IngestConfig(BaseModel):
    """Attribute precedence lists; the first attribute present (span, then resource) wins."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    surface_attributes: list[str] = Field(
        default_factory=lambda: [
            attributes.SURFACE,
            "gen_ai.agent.name",
            "traceloop.workflow.name",
            # not the call span's own http.route: on a client span that is the provider's API
            "root_span.http.route",
            "root_span.name",
            "service.name",
        ]
    )
    tenant_attributes: list[str] = Field(
        default_factory=lambda: [attributes.TENANT, "tenant.id", "enduser.id"]
    )
    # Price calls from the genai-prices catalog (served model) when the span has no cost.
    compute_cost: bool = True

    @field_validator("surface_attributes", "tenant_attributes")
    @classmethod
    def _entries_are_names(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            if not entry or entry == ROOT_SPAN_PREFIX or entry != entry.strip():
                raise ValueError(f"{entry!r} is not an attribute name")
        return entries
