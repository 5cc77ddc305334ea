"""Where each :class:`~swapwatch.detector.calls.LlmCall` field is written, per attribute dialect.

This module is data: the table from ``docs/interop.md`` as Python literals. Each field lists
its attribute keys in precedence order (current OTel GenAI semconv first, then the older OTel
names, OpenLLMetry, OpenInference, OpenLIT); the first key present on a span wins.

>>> FIELD_SOURCES["input_tokens"][:2]
('gen_ai.usage.input_tokens', 'gen_ai.usage.prompt_tokens')
>>> "llm.model_name" in INTERESTING_KEYS
True
"""

from __future__ import annotations

from swapwatch.detector.ingest import attributes as sw

# LlmCall field -> attribute keys, highest precedence first.
FIELD_SOURCES: dict[str, tuple[str, ...]] = {
    "provider": ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"),
    "server_address": ("server.address",),  # else the host of an API base URL, see below
    "operation": ("gen_ai.operation.name", "llm.request.type"),
    "request_model": ("gen_ai.request.model", "llm.request.model_name"),
    "response_model": ("gen_ai.response.model", "llm.response.model_name", "llm.model_name"),
    "response_id": ("gen_ai.response.id",),
    "input_tokens": (
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.prompt_tokens",
        "llm.token_count.prompt",
    ),
    "output_tokens": (
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",
        "llm.token_count.completion",
    ),
    "cached_input_tokens": (
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_read_input_tokens",
        "llm.token_count.prompt_details.cache_read",
    ),
    "reasoning_tokens": (
        "gen_ai.usage.reasoning.output_tokens",
        "gen_ai.usage.reasoning_tokens",
        "llm.usage.reasoning_tokens",
        "llm.token_count.completion_details.reasoning",
    ),
    "finish_reasons": (
        "gen_ai.response.finish_reasons",
        "gen_ai.response.finish_reason",
        "llm.response.finish_reason",
        "llm.finish_reason",
        "anthropic.message.stop_reason",
    ),
    "system_fingerprint": (
        "openai.response.system_fingerprint",
        "gen_ai.openai.response.system_fingerprint",
        "gen_ai.openai.system_fingerprint",
    ),
    "service_tier": (
        "openai.response.service_tier",
        "gen_ai.openai.response.service_tier",
        "anthropic.response.service_tier",
        "openai.request.service_tier",
        "gen_ai.openai.request.service_tier",
        "anthropic.request.service_tier",
    ),
    "time_to_first_chunk_s": (
        "gen_ai.response.time_to_first_chunk",
        "gen_ai.server.time_to_first_token",
    ),
    "streaming": (
        "gen_ai.request.stream",
        "gen_ai.is_streaming",
        "llm.is_streaming",
        "gen_ai.request.is_stream",
    ),
    "prompt_chars": (sw.PROMPT_CHARS,),
    "cost_usd": (sw.COST_USD, "gen_ai.usage.cost", "llm.cost.total"),
    "error_type": ("error.type",),
}

# URLs whose host is the server address when no dialect wrote ``server.address`` (OpenLLMetry).
API_BASE_URLS = ("gen_ai.openai.api_base", "url.full")

# Finish reasons as providers spell them -> the OpenAI / semconv vocabulary, so that one call
# reads the same in every dialect (OpenLLMetry already maps Anthropic's; others do not).
FINISH_REASON_ALIASES: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "function_call": "tool_calls",
    "refusal": "content_filter",
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "MALFORMED_FUNCTION_CALL": "error",
    "COMPLETE": "stop",
    "ERROR_TOXIC": "content_filter",
}

# OpenInference keeps the requested model (and the stream flag) inside this JSON string.
INVOCATION_PARAMETERS = "llm.invocation_parameters"
OPENINFERENCE_KIND = "openinference.span.kind"
# OpenInference span kinds that are model calls.
OPENINFERENCE_MODEL_KINDS = frozenset({"LLM", "EMBEDDING"})

EVALUATION_EVENT = "gen_ai.evaluation.result"
EVALUATION_NAME = "gen_ai.evaluation.name"
EVALUATION_SCORE = "gen_ai.evaluation.score.value"

# Presence of any of these keys makes a span a model call (subject to the checks below).
MODEL_MARKERS = frozenset(
    {
        "gen_ai.request.model",
        "gen_ai.response.model",
        "llm.request.model_name",
        "llm.response.model_name",
        "llm.model_name",
        INVOCATION_PARAMETERS,
    }
)
# gen_ai.operation.name values of spans that are not a call to a model.
NON_MODEL_OPERATIONS = frozenset({"execute_tool", "invoke_agent", "create_agent"})

# Operation names as dialects write them -> semconv gen_ai.operation.name values.
OPERATION_ALIASES: dict[str, str] = {
    "completion": "text_completion",
    "completions": "text_completion",
    "embedding": "embeddings",
    "chat_completion": "chat",
    "chat.completions": "chat",
    "rerank": "rerank",
}
# Span names that tell the operation when no attribute does (OpenInference, OpenLLMetry).
OPERATION_BY_SPAN_NAME: dict[str, str] = {
    "ChatCompletion": "chat",
    "Completion": "text_completion",
    "CreateEmbeddings": "embeddings",
    "CreateEmbeddingResponse": "embeddings",
    "Message": "chat",
    "openai.chat": "chat",
    "openai.completion": "text_completion",
    "openai.embeddings": "embeddings",
    "anthropic.chat": "chat",
    "anthropic.completion": "text_completion",
}

# Which dialect wrote a span: the first marker key present decides (most specific first).
DIALECT_MARKERS: tuple[tuple[str, str], ...] = (
    (OPENINFERENCE_KIND, "openinference"),
    ("gen_ai.usage.cost", "openlit"),
    ("gen_ai.server.time_to_first_token", "openlit"),
    ("llm.request.type", "openllmetry"),
    ("llm.is_streaming", "openllmetry"),
    ("gen_ai.usage.total_tokens", "openllmetry"),
    ("llm.usage.total_tokens", "openllmetry"),
    ("gen_ai.provider.name", "otel"),
    ("gen_ai.system", "otel-legacy"),
)
# Instrumentation scope name prefixes that identify a dialect before any attribute.
DIALECT_BY_SCOPE: tuple[tuple[str, str], ...] = (
    ("openinference.", "openinference"),
    ("openlit", "openlit"),
    ("opentelemetry.instrumentation.openai.", "openllmetry"),
    ("opentelemetry.instrumentation.anthropic", "openllmetry"),
    ("opentelemetry.instrumentation.bedrock", "openllmetry"),
    ("opentelemetry.instrumentation.vertexai", "openllmetry"),
)

RESOURCE_SERVICE = "service.name"
RESOURCE_ENVIRONMENT = ("deployment.environment.name", "deployment.environment")

# Every key the extractor ever reads from a span (surface/tenant keys come from config).
INTERESTING_KEYS: frozenset[str] = frozenset(
    {key for keys in FIELD_SOURCES.values() for key in keys}
    | MODEL_MARKERS
    | {k for k, _ in DIALECT_MARKERS}
    | {OPENINFERENCE_KIND, EVALUATION_NAME, EVALUATION_SCORE, *RESOURCE_ENVIRONMENT}
    | set(API_BASE_URLS)
)
