"""Pure decisions on span attributes: is this an LLM call span, and what did the call cost.

Both read every dialect an instrumentor might write (OTel GenAI semconv current and older
names, OpenLLMetry, OpenInference), so swapwatch enriches whichever instrumentor the service
runs.

>>> attrs = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
...          "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06",
...          "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 200}
>>> is_llm_span(attrs), is_llm_span({"http.request.method": "POST"})
(True, False)
>>> round(call_cost(attrs, at_ns=None) or 0, 6)
0.0045
>>> call_cost({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"}, None) is None
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from swapwatch.detector.ingest.pricing import call_cost_usd

#: ``(provider, model, input_tokens, output_tokens, cached_input_tokens, at_ns) -> usd``
PriceFunction = Callable[..., float | None]

_LLM_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "responses"})


def is_llm_span(attributes: Mapping[str, Any] | None) -> bool:
    """Whether a span (as far as its attributes say) is one LLM request, in any dialect.

    Agent, tool and embedding spans are not: their operation names differ.

    >>> is_llm_span({"gen_ai.operation.name": "invoke_agent", "gen_ai.request.model": "x"})
    False
    >>> is_llm_span({"openinference.span.kind": "LLM"}), is_llm_span({"gen_ai.system": "openai"})
    (True, True)
    """
    if not attributes:
        return False
    operation = attributes.get("gen_ai.operation.name")
    if operation is not None:
        return operation in _LLM_OPERATIONS
    if "gen_ai.request.model" in attributes or "gen_ai.system" in attributes:
        return True
    return attributes.get("openinference.span.kind") == "LLM" or "llm.system" in attributes


def _first(attributes: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        value = attributes.get(name)
        if value is not None:
            return value
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def call_cost(attributes: Mapping[str, Any], at_ns: int | None,
              price: PriceFunction = call_cost_usd) -> float | None:
    """USD price of the call from the served model (else the requested one) and usage.

    ``None`` when the model, the token counts or the price are unknown. Never raises.
    """
    try:
        model = _first(attributes, "gen_ai.response.model", "llm.model_name",
                       "gen_ai.request.model")
        if not isinstance(model, str):
            return None
        input_tokens = _int(_first(attributes, "gen_ai.usage.input_tokens",
                                   "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"))
        output_tokens = _int(_first(attributes, "gen_ai.usage.output_tokens",
                                    "gen_ai.usage.completion_tokens",
                                    "llm.token_count.completion"))
        if input_tokens is None or output_tokens is None:
            return None
        cached = _int(_first(attributes, "gen_ai.usage.cache_read.input_tokens",
                             "llm.token_count.prompt_details.cache_read"))
        provider = _first(attributes, "gen_ai.provider.name", "gen_ai.system", "llm.provider",
                          "llm.system")
        cost = price(provider if isinstance(provider, str) else None, model, input_tokens,
                     output_tokens, cached, at_ns=at_ns)
        return float(cost) if cost is not None else None
    except Exception:  # pricing is advisory
        return None
