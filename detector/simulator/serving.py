"""How one model profile answers one request: the per-request draw behind every simulated call.

Timing follows the measured tables with three realistic couplings: time to first token grows
with the prompt beyond the benchmark's prompt (prefill at ``prefill_to_decode_ratio`` × the
decode rate, from the splitwise profiles), decoding slows with the provider's load (splitwise's
per-token time by batch size), and each request gets network jitter with rare stalls (a heavy
tail no benchmark row shows). Output length is what the request calls for (the Azure trace)
times the model's verbosity and measured spread, cut by ``max_tokens``.

>>> import random
>>> from swapwatch.detector.simulator.profiles import load_catalog
>>> catalog = load_catalog()
>>> ask = Ask(prompt_chars=4000, demand_tokens=200, max_tokens=1024, stream=True, tools=False)
>>> out = serve(catalog.model("openai/gpt-4o"), ask, Conditions(load=0.5), catalog.load,
...             random.Random(1))
>>> out.served_model, out.finish_reason, 150 < out.output_tokens < 260
('gpt-4o-2024-08-06', 'stop', True)
>>> 0.1 < out.ttft_s < out.duration_s
True
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from swapwatch.detector.simulator.profiles import LoadCurve, ModelProfile

# Per-request multiplicative jitter (log-normal sigma) on timings, and rare stalls.
TIMING_JITTER_SIGMA = 0.06
STALL_PROBABILITY = 0.004
STALL_RANGE = (1.5, 5.0)
NETWORK_OVERHEAD_S = (0.015, 0.06)
INPUT_TOKEN_JITTER_SIGMA = 0.02
# Evaluation scores: Beta with the profile's mean and this concentration (judge noise).
QUALITY_CONCENTRATION = 8.0
TOOL_CALL_TOKENS = (14, 60)


@dataclass(frozen=True, slots=True)
class Ask:
    """What a caller sends: the prompt's size, how long an answer it calls for, options."""

    prompt_chars: int
    demand_tokens: int
    max_tokens: int | None
    stream: bool
    tools: bool


@dataclass(frozen=True, slots=True)
class Conditions:
    """The provider's state when the request arrives."""

    load: float  # daily cycle, 0 (night) .. 1 (peak)
    slowdown: float = 1.0  # incident: every time multiplied, decode rate divided
    error_factor: float = 1.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """One simulated answer. Token counts are ``None`` when the request failed."""

    served_model: str
    system_fingerprint: str | None
    input_tokens: int | None
    output_tokens: int | None
    ttft_s: float
    duration_s: float
    decode_tps: float
    finish_reason: str | None
    error_type: str | None
    quality: float | None


def _pick(options: tuple[tuple[str, float], ...], u: float) -> str | None:
    total = 0.0
    for value, share in options:
        total += share
        if u < total:
            return value
    return options[-1][0] if options else None


def _jitter(rng: random.Random) -> float:
    factor = math.exp(rng.gauss(0.0, TIMING_JITTER_SIGMA))
    if rng.random() < STALL_PROBABILITY:
        factor *= rng.uniform(*STALL_RANGE)
    return factor


def _failure(profile: ModelProfile, rng: random.Random, slowdown: float) -> Outcome:
    error_type = _pick(profile.error_types, rng.random()) or "APIError"
    if error_type == "APITimeoutError":
        duration = rng.uniform(20.0, 60.0)
    elif error_type == "RateLimitError":
        duration = rng.uniform(0.03, 0.3)
    else:
        duration = rng.uniform(0.2, 3.0) * slowdown
    return Outcome(
        served_model=profile.served_model, system_fingerprint=None, input_tokens=None,
        output_tokens=None, ttft_s=duration, duration_s=duration, decode_tps=0.0,
        finish_reason=None, error_type=error_type, quality=None,
    )


def _output(profile: ModelProfile, ask: Ask, rng: random.Random) -> tuple[int, str]:
    if ask.tools and rng.random() < profile.tool_call_propensity:
        return rng.randint(*TOOL_CALL_TOKENS), "tool_calls"
    natural = ask.demand_tokens * profile.verbosity * profile.output_ratio.sample(rng.random())
    finish = "stop"
    if rng.random() < profile.runaway_rate:
        natural = max(natural * 4.0, float(ask.max_tokens or 0))
    if rng.random() < profile.content_filter_rate:
        natural *= rng.random()
        finish = "content_filter"
    tokens = max(1, round(natural))
    if ask.max_tokens is not None and tokens > ask.max_tokens:
        return ask.max_tokens, "length"
    return tokens, finish


def serve(
    profile: ModelProfile,
    ask: Ask,
    conditions: Conditions,
    load_curve: LoadCurve,
    rng: random.Random,
) -> Outcome:
    """Draw one answer of ``profile`` to ``ask``; every random choice comes from ``rng``."""
    if rng.random() < profile.error_rate * conditions.error_factor:
        return _failure(profile, rng, conditions.slowdown)
    input_tokens = max(1, round(
        ask.prompt_chars * profile.tokens_per_char
        * math.exp(rng.gauss(0.0, INPUT_TOKEN_JITTER_SIGMA))
    ))
    output_tokens, finish = _output(profile, ask, rng)
    slow = load_curve.slowdown(conditions.load) * conditions.slowdown
    decode_tps = profile.decode_tps.sample(rng.random()) / slow / _jitter(rng)
    prefill_tps = profile.decode_tps.median * profile.prefill_to_decode_ratio
    extra_prompt = max(0, input_tokens - profile.reference_prompt_tokens)
    ttft = (profile.ttft_s.sample(rng.random()) + extra_prompt / prefill_tps) * slow * _jitter(rng)
    duration = ttft + (output_tokens - 1) / decode_tps + rng.uniform(*NETWORK_OVERHEAD_S)
    quality_mean = profile.quality_mean
    quality = rng.betavariate(
        quality_mean * QUALITY_CONCENTRATION, (1 - quality_mean) * QUALITY_CONCENTRATION
    )
    return Outcome(
        served_model=profile.served_model,
        system_fingerprint=_pick(profile.fingerprints, rng.random()),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        ttft_s=ttft,
        duration_s=duration,
        decode_tps=decode_tps,
        finish_reason=finish,
        error_type=None,
        quality=quality,
    )
