"""Typed configuration of detection (series keys, learners, correlation, incidents).

Every default lives here and nowhere else; the engine and the learners receive these objects.
Times are event time (span timestamps) in seconds; sizes count calls of one series key.

>>> cfg = DetectionConfig()
>>> cfg.correlation.min_signals, cfg.numeric.block_size, cfg.keys.max_keys
(3, 16, 100000)
>>> DetectionConfig.model_validate({"signals": ["latency", "colour"]})
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for DetectionConfig
signals
  Value error, unknown signal(s) ['colour']; known: cost, decode_rate, errors, ...
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from swapwatch.detector.detection.divergence import DivergenceConfig
from swapwatch.detector.detection.ledger import LedgerConfig

#: The fixed signal names (architecture.md): they appear in alerts and in this configuration.
SIGNAL_NAMES: tuple[str, ...] = (
    "identity",
    "model_share",
    "fingerprint",
    "latency",
    "ttft",
    "decode_rate",
    "output_tokens",
    "tokenizer",
    "cost",
    "finish_reason",
    "errors",
    "quality",
)


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KeysConfig(_Section):
    """How calls are grouped into series and how many series are kept."""

    max_keys: int = Field(100_000, ge=1, description="Most series kept; the idlest is evicted.")
    idle_evict_s: float = Field(
        3 * 86400.0, gt=0, description="A series unseen for this long (event time) is dropped."
    )
    include_tenant: bool = Field(True, description="Tenant is part of the key when present.")


class NumericConfig(_Section):
    """Learners of numeric signals: block statistics compared with a day-long baseline.

    Calls are grouped into blocks of ``block_size``; each block is summarised by its
    interquartile mean (of the transformed value). The baseline is a ring of
    ``baseline_entries`` entries of at least ``entry_s`` each (a daily cycle). A shift is a
    window of the last ``recent_blocks`` (or 2×, 4× as many) blocks whose mean is farther from
    the baseline than ``threshold`` standard deviations (block noise plus the daily swing) and
    than the signal's minimum relative effect.
    """

    block_size: int = Field(16, ge=1, le=256)
    sparse_signals: list[str] = Field(
        # evaluation scores are on a few percent of calls: small blocks, or it never warms up
        default_factory=lambda: ["quality"],
        description="Signals seen on few calls: they use the sparse_* sizes below.",
    )
    sparse_block_size: int = Field(4, ge=1, le=256)
    sparse_recent_blocks: int = Field(2, ge=1, le=32)
    sparse_warmup_blocks: int = Field(8, ge=2)
    baseline_entries: int = Field(48, ge=4, le=512)
    entry_s: float = Field(1800.0, ge=0, description="Shortest baseline entry (event time).")
    recent_blocks: int = Field(4, ge=1, le=32)
    warmup_blocks: int = Field(16, ge=2, description="Baseline blocks before a learner may fire.")
    threshold: float = Field(4.0, gt=0, description="Robust z of the recent median.")
    min_relative_effect: float = Field(
        0.10, gt=0, description="Smallest relative change (10% = 0.10) worth a shift."
    )
    bin_memory: int = Field(
        1024, ge=8, le=65535,
        description="Calls a conditioning bin's centre remembers (timing signals).",
    )
    bin_min_support: int = Field(24, ge=1, description="Calls a bin needs before it conditions.")


class CategoricalConfig(_Section):
    """Learners of categorical signals: share of each value, recent window versus baseline."""

    block_size: int = Field(32, ge=1, le=1024)
    recent_blocks: int = Field(4, ge=1, le=32)
    warmup_calls: int = Field(256, ge=1)
    half_life_blocks: float = Field(64.0, gt=0, description="Baseline memory, in blocks.")
    min_total_variation: float = Field(0.10, gt=0, le=1)
    threshold: float = Field(5.0, gt=0, description="Two-proportion z of the largest change.")
    new_value_share: float = Field(
        0.05, gt=0, le=1, description="Share of a never-seen value that counts as a shift."
    )
    new_value_min_count: int = Field(4, ge=1)
    max_values: int = Field(12, ge=2, description="Values tracked per learner; rarer are 'other'.")


class CorrelationConfig(_Section):
    """When shifted signals of one key become a ``swap`` alert."""

    min_signals: int = Field(3, ge=1, le=len(SIGNAL_NAMES))
    window_requests: int = Field(
        240, ge=1, description="Shift starts this many calls apart still belong together."
    )
    window_s: float = Field(
        1800.0, ge=0, description="... or this many seconds apart (slow series)."
    )
    hold_requests: int = Field(
        500, ge=1, description="Calls a lone shift waits for partners before re-baselining."
    )
    load_only_swaps: bool = Field(
        True, description="Load signals alone (timing, errors) may make a swap when no other "
        "key of the provider shifted timing meanwhile (a host or size change moves only timing).",
    )
    peer_wait_requests: int = Field(
        64, ge=0, description="Calls a timing-only candidate waits for peers to show a shift."
    )


class IncidentConfig(_Section):
    """When timing shifts on most keys of one provider are a provider ``incident``."""

    min_keys: int = Field(2, ge=2, description="Shifted keys needed for an incident.")
    fraction: float = Field(0.5, gt=0, le=1, description="Share of active keys shifted.")
    window_s: float = Field(3600.0, gt=0, description="Shift starts this close in time.")


class IdentityConfig(_Section):
    """Served model outside what the requested identifier may resolve to."""

    resolve_after_calls: int = Field(
        200, ge=1, description="Expected calls in a row that end an episode (at least 4× the "
        "longest run between mismatches seen in the episode)."
    )
    resolve_after_s: float = Field(3600.0, ge=0, description="... and this long without one.")
    any_model_patterns: list[str] = Field(
        default_factory=lambda: [r"(^|/)auto$", r"(^|/)auto-router$"],
        description="Requested models (regex) that may resolve to any model: auto-routers. "
        "Their served models are watched by model_share, not identity.",
    )

    @field_validator("any_model_patterns")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(f"bad pattern {pattern!r}: {err}") from None
        return value


class DetectionConfig(_Section):
    """The ``detection:`` section of the swapwatch configuration."""

    signals: list[str] = Field(
        default_factory=lambda: list(SIGNAL_NAMES), description="Signals that are learned."
    )
    min_relative_effect: dict[str, float] = Field(
        # daily load moves timing by ~10-15% peak to trough: a timing shift must exceed it
        default_factory=lambda: {"latency": 0.15, "ttft": 0.15, "decode_rate": 0.15},
        description="Per-signal smallest relative change (default: numeric.min_relative_effect"
        "; for errors, the share of calls, default 0.03).",
    )
    keys: KeysConfig = Field(default_factory=KeysConfig)
    numeric: NumericConfig = Field(default_factory=NumericConfig)
    categorical: CategoricalConfig = Field(default_factory=CategoricalConfig)
    correlation: CorrelationConfig = Field(default_factory=CorrelationConfig)
    incident: IncidentConfig = Field(default_factory=IncidentConfig)
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    ledger: LedgerConfig = Field(default_factory=LedgerConfig)
    divergence: DivergenceConfig = Field(default_factory=DivergenceConfig)
    reorder_window_s: float = Field(
        5.0, ge=0, description="Late spans up to this old are put back in event-time order."
    )
    reorder_max_calls: int = Field(10_000, ge=1, description="Bound of the reorder buffer.")
    max_change_points: int = Field(
        10_000, ge=0, description="Change points kept for the regime ledger to drain."
    )

    @field_validator("signals")
    @classmethod
    def _known_signals(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(SIGNAL_NAMES))
        if unknown:
            known = ", ".join(sorted(SIGNAL_NAMES))
            raise ValueError(f"unknown signal(s) {unknown}; known: {known}")
        return value

    @field_validator("min_relative_effect")
    @classmethod
    def _known_effects(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(SIGNAL_NAMES))
        if unknown:
            raise ValueError(f"unknown signal(s) {unknown} in min_relative_effect")
        if any(v <= 0 for v in value.values()):
            raise ValueError("min_relative_effect values must be > 0")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DetectionConfig:
        if self.correlation.window_requests < self.numeric.block_size:
            raise ValueError("correlation.window_requests must be at least numeric.block_size")
        return self

    def effect_for(self, signal: str) -> float:
        """The smallest relative change that counts for ``signal``."""
        return self.min_relative_effect.get(signal, self.numeric.min_relative_effect)
