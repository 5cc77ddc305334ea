"""The OpenAI Chat Completions wire format: parse a request, render a reply, an error, a stream.

Pure functions; the server in :mod:`swapwatch.detector.simulator.provider` does the I/O.
Shapes follow the ``openai`` SDK's types (``ChatCompletion``, ``ChatCompletionChunk``,
``CompletionUsage``) and OpenAI's documented error object.

>>> from swapwatch.detector.simulator.behaviour import FixedBehaviour
>>> call = parse_request({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]},
...                      headers={}, now=1.7e9)
>>> body = render_completion(call, FixedBehaviour().reply(call.request), seq=1)
>>> body["object"], body["model"], body["choices"][0]["finish_reason"]
('chat.completion', 'gpt-4o-2024-08-06', 'stop')
>>> status, error, _ = render_error(429, call, retry_after_s=2.0)
>>> status, error["error"]["code"]
(429, 'rate_limit_exceeded')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
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

_ERRORS: Mapping[int, tuple[str, str | None, str]] = {
    # status: (type, code, message)
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory",
          "Country, region, or territory not supported."),
    404: ("invalid_request_error", "model_not_found",
          "The model `{model}` does not exist or you do not have access to it."),
    429: ("requests", "rate_limit_exceeded",
          "Rate limit reached for {model} on requests per min (RPM). Please try again in {retry}."),
    500: ("server_error", None,
          "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def prompt_text(body: Mapping[str, Any]) -> str:
    """The characters of the prompt: every message's text content, in order."""
    messages = body.get("messages") or []
    return "\n".join(content_text(m.get("content")) for m in messages if isinstance(m, Mapping))


def _offered_tool(body: Mapping[str, Any]) -> tuple[str, Mapping[str, Any] | None] | None:
    """The tool the simulated model calls, or ``None`` if no tool may be called."""
    choice = body.get("tool_choice", body.get("function_call"))
    if choice == "none":
        return None
    functions: list[Mapping[str, Any]] = []
    for tool in body.get("tools") or []:
        if isinstance(tool, Mapping) and isinstance(tool.get("function"), Mapping):
            functions.append(tool["function"])
    functions += [f for f in body.get("functions") or [] if isinstance(f, Mapping)]
    if not functions:
        return None
    wanted = None
    if isinstance(choice, Mapping):
        function = choice.get("function")
        wanted = (function if isinstance(function, Mapping) else choice).get("name")
    chosen = next((f for f in functions if f.get("name") == wanted), functions[0])
    parameters = chosen.get("parameters")
    name = str(chosen.get("name") or "tool")
    return name, parameters if isinstance(parameters, Mapping) else None


def parse_request(body: Any, headers: Mapping[str, str], now: float) -> Call:
    """A ``POST /v1/chat/completions`` body as a :class:`Call`; raises :class:`InvalidRequest`."""
    if not isinstance(body, Mapping):
        raise InvalidRequest("We could not parse the JSON body of your request.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("you must provide a model parameter", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("Invalid 'messages': empty array. Expected an array with minimum "
                             "length 1.", "messages")
    text = prompt_text(body)
    tool = _offered_tool(body)
    stream_options = body.get("stream_options")
    include_usage = isinstance(stream_options, Mapping) and bool(
        stream_options.get("include_usage"))
    return parsed_call("openai", model, text,
                       optional_int(body, "max_completion_tokens", "max_tokens"), body, tool,
                       headers, now, include_usage)


def _usage(reply: Reply) -> dict[str, Any]:
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.prompt_tokens + reply.output_tokens,
        "prompt_tokens_details": {"cached_tokens": reply.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reply.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _tool_call(call: Call, reply: Reply, seq: int) -> dict[str, Any]:
    return {
        "id": sim_id("call_", seq, call.request.now),
        "type": "function",
        "function": {
            "name": call.tool_name,
            "arguments": tool_arguments(call.tool_parameters, call.request.prompt_hash),
        },
    }


def _calls_tool(call: Call, reply: Reply) -> bool:
    return reply.finish_reason == "tool_calls" and call.tool_name is not None


def _envelope(call: Call, reply: Reply, seq: int, obj: str) -> dict[str, Any]:
    return {
        "id": sim_id("chatcmpl-", seq, call.request.now, 29),
        "object": obj,
        "created": int(call.request.now),
        "model": reply.served_model,
        "service_tier": reply.service_tier,
        "system_fingerprint": reply.system_fingerprint,
    }


def render_completion(call: Call, reply: Reply, seq: int) -> dict[str, Any]:
    """The non-streaming ``chat.completion`` body."""
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None,
                               "annotations": []}
    if _calls_tool(call, reply):
        message["tool_calls"] = [_tool_call(call, reply, seq)]
    elif reply.finish_reason == "content_filter":
        message["content"] = ""
    else:
        message["content"] = filler_text(reply.output_tokens, call.request.prompt_hash)
    choice = {"index": 0, "message": message, "logprobs": None,
              "finish_reason": reply.finish_reason}
    return {**_envelope(call, reply, seq, "chat.completion"), "choices": [choice],
            "usage": _usage(reply)}


def render_stream(call: Call, reply: Reply, seq: int) -> list[Frame]:
    """The ``chat.completion.chunk`` events of a streamed answer, ending with ``[DONE]``."""
    envelope = _envelope(call, reply, seq, "chat.completion.chunk")
    if call.include_usage:
        envelope["usage"] = None

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return sse({**envelope, "choices": [choice]})

    frames = [Frame(chunk({"role": "assistant", "content": "", "refusal": None}), 0)]
    if _calls_tool(call, reply):
        tool = _tool_call(call, reply, seq)
        arguments = tool["function"]["arguments"]
        opening = {"index": 0, "id": tool["id"], "type": "function",
                   "function": {"name": call.tool_name, "arguments": ""}}
        frames.append(Frame(chunk({"tool_calls": [opening]}), 0))
        pieces = split_for_stream(arguments, max(reply.output_tokens, 1))
        for i, piece in enumerate(pieces, start=1):
            delta = {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
            frames.append(Frame(chunk(delta), math.ceil(i * reply.output_tokens / len(pieces))))
    elif reply.finish_reason != "content_filter":
        for i, piece in enumerate(text_pieces(reply.output_tokens, call.request.prompt_hash)):
            frames.append(Frame(chunk({"content": piece}), i + 1))
    done = reply.output_tokens
    frames.append(Frame(chunk({}, reply.finish_reason), done))
    if call.include_usage:
        frames.append(Frame(sse({**envelope, "choices": [], "usage": _usage(reply)}), done))
    frames.append(Frame(sse("[DONE]"), done))
    return frames


def render_error(status: int, call: Call | None, request_id: str = "",
                 message: str | None = None, param: str | None = None,
                 retry_after_s: float | None = None) -> ErrorAnswer:
    """``(status, body, headers)`` of an OpenAI error answer; ``retry_after_s`` is real seconds."""
    kind, code, template = _ERRORS.get(status, ("server_error", None, "Unexpected error."))
    model = call.request.request_model if call else ""
    retry = f"{retry_after_s:.3g}s" if retry_after_s is not None else "a moment"
    text = message or template.format(model=model, retry=retry)
    headers = response_headers(request_id) if request_id else {}
    if status in (429, 503):
        headers.update(retry_after_headers(retry_after_s))
    body = {"error": {"message": text, "type": kind, "param": param, "code": code}}
    return status, body, headers


def response_headers(request_id: str) -> dict[str, str]:
    """The headers OpenAI sends with every answer (the SDK reads ``x-request-id``)."""
    return {"x-request-id": request_id, "openai-version": "2020-10-01",
            "openai-processing-ms": "1"}


def render_models(models: list[str], now: float) -> dict[str, Any]:
    """``GET /v1/models``: the models the simulator answers for."""
    data = [{"id": m, "object": "model", "created": int(now), "owned_by": "swapwatch-sim"}
            for m in models]
    return {"object": "list", "data": data}


OPENAI = WireApi("openai", parse_request, render_completion, render_stream, render_error,
                 render_models, response_headers)

