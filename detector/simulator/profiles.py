"""Model profiles: what one model on one host looks like, read from the shipped ``profiles.json``.

A :class:`ModelProfile` carries the measured timing and length distributions of a model as
quantile tables (built from real requests by :mod:`.build_profiles`) and the traits that are
not timing: served model string, system fingerprints, tokenizer ratio, tool-call propensity,
content-filter and error rates, and the mean of its evaluation score. Scenarios derive
variants (a quantized copy, a fine-tune) with :meth:`ModelProfile.derive`.

>>> catalog = load_catalog()
>>> gpt4o = catalog.model("openai/gpt-4o")
>>> gpt4o.served_model, round(gpt4o.ttft_s.median, 2)
('gpt-4o-2024-08-06', 0.57)
>>> faster = gpt4o.derive(decode_factor=1.5, served_model="gpt-4o-q")
>>> round(faster.decode_tps.median / gpt4o.decode_tps.median, 2), faster.served_model
(1.5, 'gpt-4o-q')
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

PROFILES_PATH = Path(__file__).with_name("profiles.json")


@dataclass(frozen=True, slots=True)
class QuantileTable:
    """Evenly spaced quantiles (0..1 inclusive) of one measured quantity; samples by inverse CDF.

    Values between quantiles are interpolated linearly; the outer knots are the observed
    minimum and maximum, so the measured tails are kept.

    >>> t = QuantileTable((1.0, 2.0, 10.0))
    >>> t.sample(0.0), t.sample(0.25), t.sample(0.75), t.sample(1.0)
    (1.0, 1.5, 6.0, 10.0)
    >>> t.median
    2.0
    """

    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.values) < 2:
            raise ValueError("a quantile table needs at least two values")
        if any(b < a for a, b in zip(self.values, self.values[1:], strict=False)):
            raise ValueError("quantile values must be non-decreasing")

    def sample(self, u: float) -> float:
        """The value at cumulative probability ``u`` in [0, 1]."""
        values = self.values
        steps = len(values) - 1
        pos = (0.0 if u < 0.0 else 1.0 if u > 1.0 else u) * steps
        index = int(pos)
        if index >= steps:
            index = steps - 1
        lo = values[index]
        return lo + (values[index + 1] - lo) * (pos - index)

    @property
    def median(self) -> float:
        return self.sample(0.5)

    def scaled(self, factor: float) -> QuantileTable:
        return QuantileTable(tuple(v * factor for v in self.values))


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """One model as served by one host: measured distributions plus non-timing traits."""

    id: str  # "<provider>/<model>", e.g. "together_ai/llama-2-70b"
    provider: str
    model: str
    served_model: str
    source: str
    ttft_s: QuantileTable  # at reference_prompt_tokens, unloaded
    decode_tps: QuantileTable  # output tokens per second after the first token
    output_ratio: QuantileTable  # output length relative to its median
    reference_prompt_tokens: int
    verbosity: float  # median output relative to the family reference model
    tokens_per_char: float
    fingerprints: tuple[tuple[str, float], ...]  # (system_fingerprint, share)
    tool_call_propensity: float
    content_filter_rate: float
    error_rate: float
    quality_mean: float
    # share of requests that ramble on until the caller's max_tokens cuts them
    runaway_rate: float = 0.01
    # how much faster the prompt is read than tokens are generated (splitwise, batch 1)
    prefill_to_decode_ratio: float = 196.0
    error_types: tuple[tuple[str, float], ...] = (
        ("RateLimitError", 0.6), ("InternalServerError", 0.25), ("APITimeoutError", 0.15)
    )

    def derive(
        self,
        *,
        id: str | None = None,
        served_model: str | None = None,
        decode_factor: float = 1.0,
        ttft_factor: float = 1.0,
        verbosity_factor: float = 1.0,
        quality_shift: float = 0.0,
        runaway_rate: float | None = None,
        fingerprints: Sequence[tuple[str, float]] | None = None,
        error_rate: float | None = None,
        tool_call_propensity: float | None = None,
    ) -> ModelProfile:
        """A variant of this profile (quantized copy, fine-tune, another stack)."""
        return replace(
            self,
            id=id or self.id,
            served_model=served_model or self.served_model,
            decode_tps=self.decode_tps.scaled(decode_factor),
            ttft_s=self.ttft_s.scaled(ttft_factor),
            verbosity=self.verbosity * verbosity_factor,
            quality_mean=min(max(self.quality_mean + quality_shift, 0.01), 0.99),
            runaway_rate=self.runaway_rate if runaway_rate is None else runaway_rate,
            fingerprints=self.fingerprints if fingerprints is None else tuple(fingerprints),
            error_rate=self.error_rate if error_rate is None else error_rate,
            tool_call_propensity=(
                self.tool_call_propensity if tool_call_propensity is None
                else tool_call_propensity
            ),
        )


@dataclass(frozen=True, slots=True)
class TrafficShape:
    """A real request trace reduced to arrivals per second and (prompt, output) length tables."""

    name: str
    arrivals_per_second: tuple[int, ...]
    context_tokens: QuantileTable
    context_bin_edges: tuple[float, ...]
    generated_by_bin: tuple[QuantileTable, ...]

    @property
    def mean_rate_per_s(self) -> float:
        return sum(self.arrivals_per_second) / len(self.arrivals_per_second)

    def lengths(self, u_context: float, u_generated: float) -> tuple[int, int]:
        """(prompt tokens, output tokens the request calls for) at two uniform draws."""
        context = self.context_tokens.sample(u_context)
        return max(1, round(context)), self.generated_for(context, u_generated)

    def generated_for(self, prompt_tokens: float, u: float) -> int:
        """Output tokens a request with this prompt calls for, at uniform draw ``u``."""
        index = 0
        for edge in self.context_bin_edges[1:-1]:
            if prompt_tokens > edge:
                index += 1
        index = min(index, len(self.generated_by_bin) - 1)
        return max(1, round(self.generated_by_bin[index].sample(u)))


@dataclass(frozen=True, slots=True)
class LoadCurve:
    """Decode slowdown by batch size (splitwise), mapped from a load level in [0, 1].

    Off-peak load 0 runs at batch 8, peak load 1 at batch 24: +10-20% per-token time.

    >>> curve = LoadCurve((1, 2, 4, 8, 16, 32), (0.9, 0.93, 0.98, 1.0, 1.05, 1.19))
    >>> curve.slowdown(0.0), round(curve.slowdown(1.0), 3)
    (1.0, 1.12)
    """

    batch_sizes: tuple[int, ...]
    decode_slowdown: tuple[float, ...]
    low_batch: float = 8.0
    peak_batch: float = 24.0

    def slowdown(self, load: float) -> float:
        """Per-token time at ``load`` relative to off-peak (interpolated on the batch sizes)."""
        batch = self.low_batch + (self.peak_batch - self.low_batch) * min(max(load, 0.0), 1.0)
        sizes = self.batch_sizes
        for i in range(len(sizes) - 1):
            if sizes[i] <= batch <= sizes[i + 1]:
                frac = (batch - sizes[i]) / (sizes[i + 1] - sizes[i])
                lo, hi = self.decode_slowdown[i], self.decode_slowdown[i + 1]
                return lo + (hi - lo) * frac
        return self.decode_slowdown[-1]


@dataclass(frozen=True)
class ProfileCatalog:
    """Every profile and traffic shape in a ``profiles.json``, plus its provenance header."""

    models: Mapping[str, ModelProfile]
    traffic: Mapping[str, TrafficShape]
    load: LoadCurve
    sources: Mapping[str, Any] = field(default_factory=dict)

    def model(self, profile_id: str) -> ModelProfile:
        try:
            return self.models[profile_id]
        except KeyError:
            raise KeyError(
                f"no model profile {profile_id!r}; known: {', '.join(sorted(self.models))}"
            ) from None


def _model(profile_id: str, raw: Mapping[str, Any], prefill_ratio: float) -> ModelProfile:
    return ModelProfile(
        id=profile_id,
        provider=raw["provider"],
        model=raw["model"],
        served_model=raw["served_model"],
        source=raw["source"],
        ttft_s=QuantileTable(tuple(raw["ttft_s"])),
        decode_tps=QuantileTable(tuple(raw["decode_tps"])),
        output_ratio=QuantileTable(tuple(raw["output_ratio"])),
        reference_prompt_tokens=int(raw["reference_prompt_tokens"]),
        verbosity=float(raw["verbosity"]),
        tokens_per_char=float(raw["tokens_per_char"]),
        fingerprints=tuple((str(fp), float(share)) for fp, share in raw["fingerprints"]),
        tool_call_propensity=float(raw["tool_call_propensity"]),
        content_filter_rate=float(raw["content_filter_rate"]),
        error_rate=float(raw["error_rate"]),
        quality_mean=float(raw["quality_mean"]),
        prefill_to_decode_ratio=prefill_ratio,
    )


def _traffic(name: str, raw: Mapping[str, Any]) -> TrafficShape:
    return TrafficShape(
        name=name,
        arrivals_per_second=tuple(int(c) for c in raw["arrivals_per_second"]),
        context_tokens=QuantileTable(tuple(raw["context_tokens"])),
        context_bin_edges=tuple(float(e) for e in raw["context_bin_edges"]),
        generated_by_bin=tuple(QuantileTable(tuple(q)) for q in raw["generated_tokens_by_bin"]),
    )


def catalog_from_dict(raw: Mapping[str, Any]) -> ProfileCatalog:
    load = raw["load"]
    ratio = float(load["prefill_to_decode_ratio"])
    return ProfileCatalog(
        models={pid: _model(pid, m, ratio) for pid, m in raw["models"].items()},
        traffic={name: _traffic(name, t) for name, t in raw["traffic"].items()},
        load=LoadCurve(tuple(load["batch_sizes"]), tuple(load["decode_slowdown"])),
        sources=raw.get("sources", {}),
    )


@lru_cache(maxsize=4)
def load_catalog(path: str | Path = PROFILES_PATH) -> ProfileCatalog:
    """The shipped profiles (or another ``profiles.json``), parsed once per process."""
    return catalog_from_dict(json.loads(Path(path).read_text()))
