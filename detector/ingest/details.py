"""Call fields that need more than the attribute table: fall-backs, JSON, events, dialect.

Each reader here runs only for the spans that need it (no ``server.address``, no operation
attribute, OpenInference invocation parameters, span events, evaluation attributes), so
none of them is on the common path of a span in the current semconv.

>>> operation(None, "ChatCompletion", {})
'chat'
>>> operation("chat_completion", "whatever", {})
'chat'
>>> url_host({"url.full": "https://api.openai.com/v1/chat/completions"})
'api.openai.com'
"""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import urlsplit

from swapwatch.detector.calls import LlmCall
from swapwatch.detector.ingest import dialects as d
from swapwatch.detector.ingest.errors import IngestStats
from swapwatch.detector.ingest.plans import openinference_kind
from swapwatch.detector.ingest.rows import SLOT
from swapwatch.detector.ingest.values import MAX_LIST, MAX_TEXT, as_text, plain, unwrap

__all__ = [
    "add_evaluation",
    "from_invocation_parameters",
    "operation",
    "read_events",
    "scope_dialect",
    "url_host",
]

_MAX_EVENTS = 256  # events read per span
_MAX_INVOCATION_JSON = 65_536
_KNOWN_OPERATIONS = frozenset(
    {"chat", "text_completion", "embeddings", "generate_content", "rerank", "responses"}
)
_REQUEST_MODEL, _STREAMING = SLOT["request_model"], SLOT["streaming"]


def url_host(got: dict[str, Any]) -> str | None:
    """The host of an API base URL, for dialects that write no ``server.address``."""
    for key in d.API_BASE_URLS:
        url = got.get(key)
        if isinstance(url, str) and len(url) <= 2048:
            try:
                host = urlsplit(url).hostname
            except ValueError:
                continue
            if host:
                return host[:MAX_TEXT]
    return None


def operation(value: str | None, span_name: str, got: dict[str, Any]) -> str | None:
    """The semconv operation name: the attribute's (aliased), else guessed from the span."""
    if value:
        return d.OPERATION_ALIASES.get(value, value)
    by_name = d.OPERATION_BY_SPAN_NAME.get(span_name)
    if by_name:
        return by_name
    first = span_name.split(" ", 1)[0]
    if first in _KNOWN_OPERATIONS:
        return first
    if openinference_kind(got) == "EMBEDDING":
        return "embeddings"
    return None


def scope_dialect(scope_name: str) -> str | None:
    for prefix, dialect in d.DIALECT_BY_SCOPE:
        if scope_name.startswith(prefix):
            return dialect
    return None


def from_invocation_parameters(raw: Any, row: list[Any], stats: IngestStats | None) -> None:
    """OpenInference keeps the requested model inside a JSON string; fills ``row`` gaps."""
    text = plain(raw)
    if not isinstance(text, str) or len(text) > _MAX_INVOCATION_JSON:
        if stats is not None:
            stats.sanitise("invocation_parameters: not a bounded string")
        return
    try:
        params = json.loads(text)
    except ValueError:
        if stats is not None:
            stats.sanitise("invocation_parameters: not JSON")
        return
    if not isinstance(params, dict):
        return
    model = params.get("model")
    if row[_REQUEST_MODEL] is None and isinstance(model, str) and model:
        row[_REQUEST_MODEL] = model[:256]
    stream = params.get("stream")
    if row[_STREAMING] is None and isinstance(stream, bool):
        row[_STREAMING] = stream


def read_events(events: Any, call: LlmCall, stats: IngestStats | None) -> None:
    """Evaluation results and the exception type (of a failed call) from span events."""
    for event in events[:_MAX_EVENTS]:
        name = event.name
        if name == d.EVALUATION_EVENT:
            label = score = None
            for kv in event.attributes:
                if kv.key == d.EVALUATION_NAME:
                    label = unwrap(kv.value)
                elif kv.key == d.EVALUATION_SCORE:
                    score = unwrap(kv.value)
            if label is not None and score is not None:
                add_evaluation(call, label, score, stats)
        elif name == "exception" and call.is_error and call.error_type is None:
            for kv in event.attributes:
                if kv.key == "exception.type":
                    call.error_type = as_text(unwrap(kv.value), "error_type", stats)


def add_evaluation(call: LlmCall, label: Any, score: Any, stats: IngestStats | None) -> None:
    name = as_text(label, "evaluation.name", stats)
    raw = plain(score)
    if name is None or isinstance(raw, bool) or not isinstance(raw, (int, float)):
        if stats is not None:
            stats.sanitise("evaluation: missing name or numeric score")
        return
    value = float(raw)
    if not math.isfinite(value):
        if stats is not None:
            stats.sanitise("evaluation: not finite")
        return
    if name in call.evaluations or len(call.evaluations) < MAX_LIST:
        call.evaluations[name] = value
