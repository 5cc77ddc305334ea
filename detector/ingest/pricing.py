"""Price of one LLM call from the maintained ``genai-prices`` catalog (bundled data only).

The catalog's own ``calc_price`` costs ~0.2 ms a call, too slow for every span, so the
per-token rates of each (provider, model, day) are probed from it once and memoised; a call's
price is then three multiplications. A prompt above a tier threshold (a different rate for
very long prompts) is priced exactly through the catalog. The catalog's live update
(which downloads from the internet) is never used.

>>> round(call_cost_usd("openai", "gpt-4o-2024-08-06", 1000, 200), 6)
0.0045
>>> round(call_cost_usd("openai", "gpt-4o", 1000, 200, cached_input_tokens=400), 6)
0.004
>>> call_cost_usd("openai", "no-such-model", 10, 10) is None
True
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

__all__ = ["call_cost_usd", "catalog_model_id"]

# OTel GenAI semconv provider names (after identity.canonical_provider) → genai-prices ids.
_CATALOG_PROVIDER: dict[str, str] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "aws.bedrock": "aws",
    "azure.ai.openai": "azure",
    "gcp.vertex_ai": "google",
    "gcp.gemini": "google",
    "gcp.gen_ai": "google",
    "mistral_ai": "mistral",
    "x_ai": "x-ai",
    "deepseek": "deepseek",
    "groq": "groq",
    "cohere": "cohere",
    "perplexity": "perplexity",
    "together_ai": "together",
    "fireworks": "fireworks",
    "cerebras": "cerebras",
    "openrouter": "openrouter",
}

_PROBE_TOKENS = 1000  # below every tier threshold in the catalog


@dataclass(frozen=True, slots=True)
class _Rates:
    """USD per token below ``tier_from`` input tokens (``None``: the same rates for any size)."""

    input: float
    cached_input: float
    output: float
    tier_from: int | None


def _snapshot() -> Any:
    from genai_prices import data_snapshot

    return data_snapshot._bundled_snapshot()  # the bundled table, never a live update


@lru_cache(maxsize=256)
def _catalog_provider(provider: str | None) -> str | None:
    if not provider:
        return None
    from swapwatch.detector.ingest.identity import canonical_provider

    name = canonical_provider(provider)
    return _CATALOG_PROVIDER.get(name, name)


def _find(provider_id: str | None, model: str) -> tuple[Any, Any] | None:
    snapshot = _snapshot()
    from swapwatch.detector.ingest.identity import parse_model

    candidates = [model.strip().lower()]
    if "/" in model or "." in model:  # routed or cloud-wrapped ids: retry without the wrapper
        parsed = parse_model(model)
        unwrapped = parsed.family + (f"-{parsed.snapshot}" if parsed.snapshot else "")
        candidates.append(unwrapped)
    for ref in candidates:
        for pid in (provider_id, None) if provider_id else (None,):
            try:
                return snapshot.find_provider_model(ref, None, pid, None)  # type: ignore[no-any-return]
            except LookupError:
                continue
    return None


@lru_cache(maxsize=4096)
def catalog_model_id(model: str) -> str | None:
    """The catalog's id for a model identifier (aliases and snapshots share one), or None."""
    try:
        found = _find(None, model)
    except Exception:
        return None
    return None if found is None else str(found[1].id)


def _price(model_info: Any, provider: Any, usage: Any, when: datetime) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = model_info.calc_price(usage, provider, genai_request_timestamp=when)
    return float(result.total_price)


_NS_PER_DAY = 86_400 * 10**9
_DEFAULT_DAY = 20089  # 2025-01-01, used when a call carries no event time


def _day_start(day: int) -> datetime:
    return datetime.fromtimestamp(day * 86_400, tz=UTC)


@lru_cache(maxsize=4096)
def _rates(provider_id: str | None, model: str, day: int) -> _Rates | None:
    from genai_prices import Usage
    from genai_prices.types import TieredPrices

    found = _find(provider_id, model)
    if found is None:
        return None
    provider, model_info = found
    when = _day_start(day)
    n = _PROBE_TOKENS
    rate_in = _price(model_info, provider, Usage(input_tokens=n), when) / n
    rate_out = _price(model_info, provider, Usage(output_tokens=n), when) / n
    rate_cached = _price(model_info, provider, Usage(input_tokens=n, cache_read_tokens=n), when) / n
    prices = model_info.get_prices(when)
    starts = [
        tier.start
        for value in vars(prices).values()
        if isinstance(value, TieredPrices)
        for tier in value.tiers
    ]
    return _Rates(rate_in, rate_cached, rate_out, min(starts) if starts else None)


# (provider as written, model as written, day) -> rates: the hot path is one dict lookup.
_UNSEEN: Any = object()
_RATES_SEEN: dict[tuple[str | None, str, int], _Rates | None] = {}
_MAX_RATES_SEEN = 8192


def call_cost_usd(
    provider: str | None,
    model: str | None,
    input_tokens: int | None,
    output_tokens: int | None,
    cached_input_tokens: int | None = None,
    *,
    at_ns: int | None = None,
) -> float | None:
    """USD price of one call, or ``None`` when the model or the token counts are unknown.

    ``input_tokens`` includes cached ones (OTel semconv); ``at_ns`` is the call's event time
    (historic prices apply), default 2025-01-01 so results never depend on the wall clock.
    Never raises.
    """
    if not model or input_tokens is None or output_tokens is None:
        return None
    if input_tokens < 0 or output_tokens < 0:
        return None
    try:
        day = at_ns // _NS_PER_DAY if at_ns and at_ns > 0 else _DEFAULT_DAY
        key = (provider, model, day)
        rates = _RATES_SEEN.get(key, _UNSEEN)
        if rates is _UNSEEN:
            if len(_RATES_SEEN) >= _MAX_RATES_SEEN:
                _RATES_SEEN.clear()
            rates = _RATES_SEEN[key] = _rates(_catalog_provider(provider), model, day)
        if rates is None:
            return None
        cached = min(max(cached_input_tokens or 0, 0), input_tokens)
        if rates.tier_from is not None and input_tokens > rates.tier_from:
            from genai_prices import Usage

            found = _find(_catalog_provider(provider), model)
            if found is None:
                return None
            usage = Usage(
                input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=cached
            )
            return _price(found[1], found[0], usage, _day_start(day))
        return (
            (input_tokens - cached) * rates.input
            + cached * rates.cached_input
            + output_tokens * rates.output
        )
    except Exception:
        return None
