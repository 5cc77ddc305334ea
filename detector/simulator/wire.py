"""Wire-format pieces shared by the simulated OpenAI and Anthropic APIs.

A parsed request becomes a :class:`Call` (the API-independent :class:`Request` plus what the
renderer needs); a rendered stream is a list of :class:`Frame` s, each saying how many output
tokens had been generated when it is sent, so the server can pace it.

>>> sse({"a": 1}, event="ping")
b'event: ping\\ndata: {"a": 1}\\n\\n'
>>> sim_id("msg_01", 7, 0.0) == sim_id("msg_01", 7, 0.0), len(sim_id("call_", 1, 0.0, 24))
(True, 29)
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from swapwatch.detector.simulator.behaviour import (
    DEFAULT_CHARS_PER_TOKEN,
    Api,
    Reply,
    Request,
    estimate_prompt_tokens,
    prompt_hash_of,
)

# Request headers that carry credentials: never handed to a behaviour.
_SECRET_HEADERS = frozenset(
    {"authorization", "x-api-key", "api-key", "cookie", "proxy-authorization"})
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class InvalidRequest(Exception):
    """The request body is not a valid call of the API: answered with HTTP 400."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


@dataclass(frozen=True)
class Call:
    """One parsed API call: the behaviour's view plus what rendering the answer needs."""

    request: Request
    tool_name: str | None = None
    tool_parameters: Mapping[str, Any] | None = None
    include_usage: bool = False  # OpenAI stream_options.include_usage


def parsed_call(api: Api, model: str, text: str, max_tokens: int | None, body: Mapping[str, Any],
                tool: tuple[str, Mapping[str, Any] | None] | None, headers: Mapping[str, str],
                now: float, include_usage: bool = False) -> Call:
    """The :class:`Call` of a validated request body whose prompt reads ``text`` (the part of
    request parsing both APIs share)."""
    request = Request(
        api=api,
        request_model=model,
        prompt_tokens=estimate_prompt_tokens(len(text), DEFAULT_CHARS_PER_TOKEN),
        prompt_chars=len(text),
        max_tokens=max_tokens,
        stream=bool(body.get("stream")),
        tools=tool is not None,
        headers=public_headers(headers),
        now=now,
        prompt_hash=prompt_hash_of(text),
    )
    return Call(request, tool[0] if tool else None, tool[1] if tool else None, include_usage)


@dataclass(frozen=True)
class Frame:
    """A piece of a streamed answer, sent once ``tokens_done`` output tokens exist."""

    data: bytes
    tokens_done: int


ErrorAnswer = tuple[int, dict[str, Any], dict[str, str]]  # status, JSON body, headers


@dataclass(frozen=True)
class WireApi:
    """One provider API's wire format, as the pure functions the server calls."""

    name: str
    parse_request: Callable[[Any, Mapping[str, str], float], Call]
    render_body: Callable[[Call, Reply, int], dict[str, Any]]
    render_stream: Callable[[Call, Reply, int], list[Frame]]
    # (status, call or None, request_id, message, param, real retry-after seconds)
    render_error: Callable[[int, Call | None, str, str | None, str | None, float | None],
                           ErrorAnswer]
    render_models: Callable[[list[str], float], dict[str, Any]]
    # response headers carrying the request id, as the provider names them
    response_headers: Callable[[str], dict[str, str]]


def retry_after_headers(retry_after_s: float | None) -> dict[str, str]:
    """``retry-after`` (whole seconds) and the SDKs' preferred ``retry-after-ms``.

    At least 1 ms: the SDKs ignore a zero and fall back to their own half-second backoff.

    >>> retry_after_headers(0.02), retry_after_headers(0.0)["retry-after-ms"]
    ({'retry-after': '1', 'retry-after-ms': '20'}, '1')
    """
    if retry_after_s is None:
        return {}
    return {"retry-after": str(max(1, math.ceil(retry_after_s))),
            "retry-after-ms": str(max(1, round(retry_after_s * 1000)))}


def sse(payload: Mapping[str, Any] | str, event: str | None = None) -> bytes:
    """One server-sent event: optional ``event:`` line, one ``data:`` line, blank line."""
    data = payload if isinstance(payload, str) else json.dumps(payload)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode()


def sim_id(prefix: str, seq: int, now: float, length: int = 24) -> str:
    """A realistic-looking, deterministic identifier (``chatcmpl-…``, ``msg_01…``)."""
    digest = hashlib.sha256(f"{prefix}|{seq}|{now!r}".encode()).digest()
    number = int.from_bytes(digest, "big")
    chars = []
    for _ in range(length):
        number, rest = divmod(number, len(_ALPHABET))
        chars.append(_ALPHABET[rest])
    return prefix + "".join(chars)


def public_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Lower-cased request headers without credentials."""
    return {k.lower(): v for k, v in headers.items() if k.lower() not in _SECRET_HEADERS}


def content_text(content: Any) -> str:
    """The text of a message ``content``: a string, or a list of parts with text in them."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, Mapping):
                for key in ("text", "content", "input"):
                    value = part.get(key)
                    if isinstance(value, str):
                        texts.append(value)
                    elif isinstance(value, list):
                        texts.append(content_text(value))
                    elif isinstance(value, Mapping):
                        texts.append(json.dumps(value))
        return "\n".join(texts)
    return ""


def optional_int(body: Mapping[str, Any], *names: str) -> int | None:
    """The first of ``names`` present in ``body`` as a non-negative integer."""
    for name in names:
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidRequest(f"Invalid '{name}': expected a positive integer.", name)
        return value
    return None


def decode_body(raw: bytes) -> Any:
    """The JSON body of a request, or :class:`InvalidRequest` (both APIs answer 400)."""
    try:
        return json.loads(raw or b"null")
    except ValueError as err:
        raise InvalidRequest("The request body is not valid JSON.") from err
