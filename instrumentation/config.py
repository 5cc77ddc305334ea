"""Typed configuration of swapwatch's instrumentation, with its defaults in one place.

Every setting can come from the environment (what a zero-code deployment has) through
:meth:`InstrumentationConfig.from_env`; programmatic setup passes the same fields.

>>> cfg = InstrumentationConfig.from_env({"SWAPWATCH_SURFACE": "search", "SWAPWATCH_COST": "off"})
>>> cfg.default_surface, cfg.default_tenant, cfg.compute_cost, cfg.instrumentor_choice
('search', None, False, 'preferred')
>>> InstrumentationConfig(default_surface="")
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for InstrumentationConfig
...
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

#: Environment variables read by :meth:`InstrumentationConfig.from_env`.
ENV_SURFACE = "SWAPWATCH_SURFACE"
ENV_TENANT = "SWAPWATCH_TENANT"
ENV_COST = "SWAPWATCH_COST"
ENV_PROMPT_CHARS = "SWAPWATCH_PROMPT_CHARS"
ENV_INSTRUMENTORS = "SWAPWATCH_GENAI_INSTRUMENTORS"

SEMCONV_OPT_IN = "OTEL_SEMCONV_STABILITY_OPT_IN"
GEN_AI_LATEST = "gen_ai_latest_experimental"

_OFF = frozenset({"0", "false", "off", "no"})

InstrumentorChoice = Literal["preferred", "all"]


class InstrumentationConfig(BaseModel):
    """What swapwatch adds to gen_ai spans, and which instrumentors the distro loads."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Surface of calls made outside any ``surface(...)`` scope (and without baggage).
    default_surface: str | None = None
    #: Tenant of calls made outside any scope that names one.
    default_tenant: str | None = None
    #: Price each call from the served model and usage (``swapwatch.cost.usd``).
    compute_cost: bool = True
    #: Count prompt characters at request time (``swapwatch.prompt.chars``); never content.
    count_prompt_chars: bool = True
    #: ``preferred``: one instrumentor per SDK (see :mod:`.choice`); ``all``: every installed one.
    instrumentor_choice: InstrumentorChoice = "preferred"

    @field_validator("default_surface", "default_tenant")
    @classmethod
    def _non_empty(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must be a non-empty name or None")
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> InstrumentationConfig:
        """Read ``SWAPWATCH_*`` variables; unset ones keep the defaults."""
        surface = environ.get(ENV_SURFACE, "").strip() or None
        tenant = environ.get(ENV_TENANT, "").strip() or None
        choice = environ.get(ENV_INSTRUMENTORS, "preferred").strip().lower() or "preferred"
        return cls(
            default_surface=surface,
            default_tenant=tenant,
            compute_cost=environ.get(ENV_COST, "on").strip().lower() not in _OFF,
            count_prompt_chars=environ.get(ENV_PROMPT_CHARS, "on").strip().lower() not in _OFF,
            instrumentor_choice=choice,  # type: ignore[arg-type]  # validated by pydantic
        )


def opt_in_latest_gen_ai(environ: MutableMapping[str, str]) -> None:
    """Add ``gen_ai_latest_experimental`` to ``OTEL_SEMCONV_STABILITY_OPT_IN``."""
    opt_in = [part.strip() for part in environ.get(SEMCONV_OPT_IN, "").split(",") if part.strip()]
    if GEN_AI_LATEST not in opt_in:
        environ[SEMCONV_OPT_IN] = ",".join([*opt_in, GEN_AI_LATEST])
