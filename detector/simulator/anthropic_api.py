"""The Anthropic Messages wire format: parse a request, render a reply, an error, a stream.

Pure functions; the server in :mod:`swapwatch.detector.simulator.provider` does the I/O.
Shapes follow the ``anthropic`` SDK's types (``Message``, ``Usage``, the ``RawMessageStreamEvent``
union) and Anthropic's documented error object.

>>> from swapwatch.detector.simulator.behaviour import FixedBehaviour
>>> call = parse_request({"model": "claude-haiku-4-5", "max_tokens": 1024,
...                       "messages": [{"role": "user", "content": "Hi"}]}, headers={}, now=0.0)
>>> body = render_message(call, FixedBehaviour().reply(call.request), seq=1)
>>> body["type"], body["model"], body["stop_reason"]
('message', 'claude-haiku-4-5-20251001', 'end_turn')
>>> render_error(529, call)[1]["error"]["type"]
'overloaded_error'
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from swapwatch.detector.simulator.behaviour import (
    Reply,
)
from swapwatch.detector.simulator.content import (
    filler_text,
    split_for_stream,
    text_pieces,
    tool_arguments,
)
from swapwatch.detector.simulator.wire import (
    Call,
    ErrorAnswer,
    Frame,
    InvalidRequest,
    WireApi,
    content_text,
    optional_int,
    parsed_call,
    retry_after_headers,
    sim_id,
    sse,
)

STOP_REASONS: Mapping[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}

_ERRORS: Mapping[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error",
          "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "model: {model}"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "This request would exceed the rate limit for your organization."),
    500: ("api_error", "Internal server error"),
    503: ("api_error", "Service unavailable"),
    529: ("overloaded_error", "Overloaded"),
}


def prompt_text(body: Mapping[str, Any]) -> str:
    """The characters of the prompt: the system prompt, then every message's text content."""
    parts = [content_text(body.get("system"))] if body.get("system") else []
    messages = body.get("messages") or []
    parts += [content_text(m.get("content")) for m in messages if isinstance(m, Mapping)]
    return "\n".join(parts)


def _offered_tool(body: Mapping[str, Any]) -> tuple[str, Mapping[str, Any] | None] | None:
    choice = body.get("tool_choice")
    if isinstance(choice, Mapping) and choice.get("type") == "none":
        return None
    tools = [t for t in body.get("tools") or [] if isinstance(t, Mapping) and t.get("name")]
    if not tools:
        return None
    wanted = choice.get("name") if isinstance(choice, Mapping) else None
    chosen = next((t for t in tools if t.get("name") == wanted), tools[0])
    schema = chosen.get("input_schema")
    return str(chosen["name"]), schema if isinstance(schema, Mapping) else None


def parse_request(body: Any, headers: Mapping[str, str], now: float) -> Call:
    """A ``POST /v1/messages`` body as a :class:`Call`; raises :class:`InvalidRequest`."""
    if not isinstance(body, Mapping):
        raise InvalidRequest("The request body is not valid JSON.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("model: Field required", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages: Field required", "messages")
    max_tokens = optional_int(body, "max_tokens")
    if max_tokens is None:
        raise InvalidRequest("max_tokens: Field required", "max_tokens")
    text = prompt_text(body)
    tool = _offered_tool(body)
    return parsed_call("anthropic", model, text, max_tokens, body, tool, headers, now)


def _usage(reply: Reply, output_tokens: int) -> dict[str, Any]:
    # Anthropic's input_tokens excludes cache reads (OpenAI's prompt_tokens includes them).
    return {
        "input_tokens": max(reply.prompt_tokens - reply.cached_tokens, 0),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": reply.cached_tokens,
        "output_tokens": output_tokens,
        "service_tier": reply.service_tier if reply.service_tier in ("standard", "priority",
                                                                      "batch") else None,
    }


def _calls_tool(call: Call, reply: Reply) -> bool:
    return reply.finish_reason == "tool_calls" and call.tool_name is not None


def _tool_use(call: Call, seq: int, with_input: bool) -> dict[str, Any]:
    arguments = tool_arguments(call.tool_parameters, call.request.prompt_hash)
    return {"type": "tool_use", "id": sim_id("toolu_01", seq, call.request.now, 22),
            "name": call.tool_name, "input": json.loads(arguments) if with_input else {}}


def _message(call: Call, reply: Reply, seq: int, content: list[Any], output_tokens: int,
             stop_reason: str | None) -> dict[str, Any]:
    return {
        "id": sim_id("msg_01", seq, call.request.now, 22),
        "type": "message",
        "role": "assistant",
        "model": reply.served_model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": _usage(reply, output_tokens),
    }


def render_message(call: Call, reply: Reply, seq: int) -> dict[str, Any]:
    """The non-streaming ``message`` body."""
    if _calls_tool(call, reply):
        content = [_tool_use(call, seq, with_input=True)]
    elif reply.finish_reason == "content_filter":
        content = []
    else:
        text = filler_text(reply.output_tokens, call.request.prompt_hash)
        content = [{"type": "text", "text": text, "citations": None}]
    stop_reason = STOP_REASONS[reply.finish_reason]
    return _message(call, reply, seq, content, reply.output_tokens, stop_reason)


def render_stream(call: Call, reply: Reply, seq: int) -> list[Frame]:
    """The server-sent events of a streamed message, ``message_start`` to ``message_stop``."""
    start = _message(call, reply, seq, [], min(reply.output_tokens, 1), None)
    frames = [Frame(sse({"type": "message_start", "message": start}, "message_start"), 0)]

    def event(kind: str, payload: dict[str, Any], tokens_done: int) -> None:
        frames.append(Frame(sse({"type": kind, **payload}, kind), tokens_done))

    if _calls_tool(call, reply):
        block = _tool_use(call, seq, with_input=False)
        arguments = tool_arguments(call.tool_parameters, call.request.prompt_hash)
        event("content_block_start", {"index": 0, "content_block": block}, 0)
        event("ping", {}, 0)
        pieces = split_for_stream(arguments, max(reply.output_tokens, 1))
        for i, piece in enumerate(pieces, start=1):
            delta = {"type": "input_json_delta", "partial_json": piece}
            done = math.ceil(i * reply.output_tokens / len(pieces))
            event("content_block_delta", {"index": 0, "delta": delta}, done)
        event("content_block_stop", {"index": 0}, reply.output_tokens)
    elif reply.finish_reason != "content_filter":
        block = {"type": "text", "text": "", "citations": None}
        event("content_block_start", {"index": 0, "content_block": block}, 0)
        event("ping", {}, 0)
        for i, piece in enumerate(text_pieces(reply.output_tokens, call.request.prompt_hash)):
            delta = {"type": "text_delta", "text": piece}
            event("content_block_delta", {"index": 0, "delta": delta}, i + 1)
        event("content_block_stop", {"index": 0}, reply.output_tokens)
    stop = {"stop_reason": STOP_REASONS[reply.finish_reason], "stop_sequence": None}
    event("message_delta", {"delta": stop, "usage": _usage(reply, reply.output_tokens)},
          reply.output_tokens)
    event("message_stop", {}, reply.output_tokens)
    return frames


def render_error(status: int, call: Call | None, request_id: str = "",
                 message: str | None = None, param: str | None = None,
                 retry_after_s: float | None = None) -> ErrorAnswer:
    """``(status, body, headers)`` of an Anthropic error; ``retry_after_s`` is in real seconds.

    Anthropic's error object has no ``param``: a bad field is named in the message.
    """
    kind, template = _ERRORS.get(status, ("api_error", "Internal server error"))
    model = call.request.request_model if call else ""
    text = message or template.format(model=model)
    headers = response_headers(request_id) if request_id else {}
    if status in (429, 503, 529):
        headers.update(retry_after_headers(retry_after_s))
    body = {"type": "error", "error": {"type": kind, "message": text},
            "request_id": request_id or None}
    return status, body, headers


def response_headers(request_id: str) -> dict[str, str]:
    """The headers Anthropic sends with every answer (the SDK reads ``request-id``)."""
    return {"request-id": request_id, "anthropic-organization-id": "swapwatch-sim"}


def render_models(models: list[str], now: float) -> dict[str, Any]:
    """``GET /v1/models`` as the Anthropic API lists models."""
    created = datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z")
    data = [{"type": "model", "id": m, "display_name": m, "created_at": created} for m in models]
    return {"data": data, "has_more": False, "first_id": models[0] if models else None,
            "last_id": models[-1] if models else None}


ANTHROPIC = WireApi("anthropic", parse_request, render_message, render_stream, render_error,
                    render_models, response_headers)
