"""What each signal reads of a call: one small pure function per signal.

A numeric observer returns ``(size bin, transformed value)`` or ``None`` when the call carries
no value for it; a categorical one returns the category or ``None``. The learners of
:mod:`~swapwatch.detector.detection.signals` keep state; these keep none, so a call's value for
a signal can be computed before any learner state is touched.

>>> from swapwatch.detector.calls import LlmCall
>>> call = LlmCall(start_ns=0, end_ns=2 * 10**9, input_tokens=300, output_tokens=100,
...                time_to_first_chunk_s=0.5, finish_reasons=("stop",))
>>> OBSERVERS["output_tokens"](call), CATEGORIES["finish_reason"](call)
((0, 4.61512051684126), 'stop')
>>> round(OBSERVERS["decode_rate"](call)[1], 3)  # log(100 tokens / 1.5 s)
4.2
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

from swapwatch.detector.calls import LlmCall
from swapwatch.detector.detection.numeric import log_or_none

_OUTPUT_WEIGHT = 4.0  # typical output/input price ratio: cost per weighted token is mix-free


def _log2_bin(n: int | None, width: int, bins: int) -> int:
    """Bin of ``floor(log2 n) // width``, capped (integer arithmetic: cheap per call)."""
    if not n or n <= 0:
        return 0
    b = (int(n).bit_length() - 1) // width
    return b if b < bins else bins - 1


BINS = {"latency": 8 * 14, "ttft": 16, "decode_rate": 14}


def _latency(call: LlmCall) -> tuple[int, float] | None:
    y = log_or_none(call.duration_s)
    if y is None or not call.output_tokens:
        return None
    b = _log2_bin(call.input_tokens, 2, 8) * 14 + _log2_bin(call.output_tokens, 1, 14)
    return b, y


def _ttft(call: LlmCall) -> tuple[int, float] | None:
    y = log_or_none(call.time_to_first_chunk_s)
    if y is None:
        return None
    return _log2_bin(call.input_tokens, 1, 16), y


def _decode_rate(call: LlmCall) -> tuple[int, float] | None:
    if not call.output_tokens or call.output_tokens < 8:
        return None
    y = log_or_none(call.decode_rate)
    if y is None:
        return None
    return _log2_bin(call.output_tokens, 1, 14), y


def _output_tokens(call: LlmCall) -> tuple[int, float] | None:
    if call.output_tokens is None or call.output_tokens < 0 or call.is_error:
        return None
    return 0, math.log1p(call.output_tokens)


def _tokenizer(call: LlmCall) -> tuple[int, float] | None:
    if not call.input_tokens or not call.prompt_chars or call.prompt_chars < 16:
        return None
    y = log_or_none(call.input_tokens / call.prompt_chars)
    return None if y is None else (0, y)


def _cost(call: LlmCall) -> tuple[int, float] | None:
    cost = call.cost_usd
    if cost is None:
        cost = price_of(call)
    weighted = (call.input_tokens or 0) + _OUTPUT_WEIGHT * (call.output_tokens or 0)
    if cost is None or weighted <= 0:
        return None
    y = log_or_none(cost / weighted)
    return None if y is None else (0, y)


def _quality(call: LlmCall) -> tuple[int, float] | None:
    if not call.evaluations:
        return None
    scores = [v for v in call.evaluations.values()
              if isinstance(v, int | float) and math.isfinite(v)]
    return (0, sum(scores) / len(scores)) if scores else None


def price_of(call: LlmCall) -> float | None:
    """Catalog price of the call using the *served* model (the requested one if unknown)."""
    model = call.response_model or call.request_model
    if not model or call.input_tokens is None or call.output_tokens is None:
        return None
    rates = _unit_prices(call.provider, model, call.end_ns // _NS_PER_DAY)
    if rates is None:
        return None
    cached = min(max(call.cached_input_tokens or 0, 0), call.input_tokens)
    return ((call.input_tokens - cached) * rates[0] + cached * rates[1]
            + call.output_tokens * rates[2])


_NS_PER_DAY = 86400 * 10**9
_PROBE = 1000


@lru_cache(maxsize=4096)
def _unit_prices(provider: str | None, model: str, day: int) -> tuple[float, float, float] | None:
    """Per-token input, cached-input and output price of a model on a day (catalog, memoised).

    ``None`` when the catalog does not know the model.
    """
    from swapwatch.detector.ingest.pricing import call_cost_usd

    at = day * _NS_PER_DAY
    p_in = call_cost_usd(provider, model, _PROBE, 0, at_ns=at)
    p_cached = call_cost_usd(provider, model, _PROBE, 0, cached_input_tokens=_PROBE, at_ns=at)
    p_out = call_cost_usd(provider, model, 0, _PROBE, at_ns=at)
    if p_in is None or p_cached is None or p_out is None:
        return None
    # tiered prices (dearer above some prompt size) are read at the base tier: the signal is a
    # per-model unit price, and a tier would move it with prompt size, which is not a swap
    return p_in / _PROBE, p_cached / _PROBE, p_out / _PROBE


OBSERVERS: dict[str, Callable[[LlmCall], tuple[int, float] | None]] = {
    "latency": _latency,
    "ttft": _ttft,
    "decode_rate": _decode_rate,
    "output_tokens": _output_tokens,
    "tokenizer": _tokenizer,
    "cost": _cost,
    "quality": _quality,
}

CATEGORIES: dict[str, Callable[[LlmCall], str | None]] = {
    "model_share": lambda c: c.response_model or None,
    "fingerprint": lambda c: c.system_fingerprint or None,
    "finish_reason": lambda c: (c.finish_reasons[0] if c.finish_reasons else None)
    if not c.is_error else None,
    "errors": lambda c: (c.error_type or "error") if c.is_error else "ok",
}
