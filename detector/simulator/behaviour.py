"""What the simulated provider answers: the ``Behaviour`` contract and two simple behaviours.

The HTTP server (:mod:`swapwatch.detector.simulator.provider`) turns each request into an
API-independent :class:`Request`, asks a :class:`Behaviour` for a :class:`Reply`, and renders
that reply in the OpenAI or Anthropic wire format, sleeping for the simulated time to first
token and decode time. A behaviour is a pure decision: no I/O, no sleeping, no wall clock
(``Request.now`` is the simulated event time from the server's injected clock).

>>> behaviour = FixedBehaviour()
>>> reply = behaviour.reply(Request(api="openai", request_model="gpt-4o", prompt_tokens=12,
...                                 prompt_chars=48, max_tokens=None, stream=False,
...                                 tools=False, headers={}, now=0.0))
>>> reply.served_model, reply.system_fingerprint == fingerprint_of("gpt-4o-2024-08-06")
('gpt-4o-2024-08-06', True)
>>> reply.finish_reason
'stop'
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

Api = Literal["openai", "anthropic"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]

# A request's prompt tokens are estimated at this many characters per token before the
# behaviour decides its own tokenizer ratio (English text with cl100k/o200k is close to 4).
DEFAULT_CHARS_PER_TOKEN = 4.0

# Dated snapshots that the providers resolve their aliases to (as their responses report).
DEFAULT_SNAPSHOTS: Mapping[str, str] = {
    "gpt-4o": "gpt-4o-2024-08-06",
    "chatgpt-4o-latest": "chatgpt-4o-latest",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4-turbo": "gpt-4-turbo-2024-04-09",
    "gpt-4": "gpt-4-0613",
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "o1": "o1-2024-12-17",
    "o3-mini": "o3-mini-2025-01-31",
    "o3": "o3-2025-04-16",
    "o4-mini": "o4-mini-2025-04-16",
    "gpt-5": "gpt-5-2025-08-07",
    "gpt-5-mini": "gpt-5-mini-2025-08-07",
    "gpt-5-nano": "gpt-5-nano-2025-08-07",
    "gpt-5.1": "gpt-5.1-2025-11-13",
    "gpt-5.2": "gpt-5.2-2025-12-11",
    "gpt-5.4-mini": "gpt-5.4-mini-2026-03-17",
    "gpt-5.4-nano": "gpt-5.4-nano-2026-03-17",
    "gpt-5.5": "gpt-5.5-2026-04-23",
    "claude-3-5-sonnet-latest": "claude-3-5-sonnet-20241022",
    "claude-3-5-haiku-latest": "claude-3-5-haiku-20241022",
    "claude-3-7-sonnet-latest": "claude-3-7-sonnet-20250219",
    "claude-sonnet-4-0": "claude-sonnet-4-20250514",
    "claude-opus-4-0": "claude-opus-4-20250514",
    "claude-opus-4-1": "claude-opus-4-1-20250805",
    "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
    "claude-opus-4-5": "claude-opus-4-5-20251101",
}


@dataclass(frozen=True)
class Request:
    """What the server saw, independent of the API it came through."""

    api: Api
    request_model: str
    prompt_tokens: int  # estimated at DEFAULT_CHARS_PER_TOKEN; a behaviour may re-estimate
    prompt_chars: int
    max_tokens: int | None
    stream: bool
    tools: bool  # tools were offered (and tool_choice did not forbid them)
    headers: Mapping[str, str]  # lower-cased names; credentials are never passed on
    now: float  # simulated event time, unix seconds, from the server's clock
    prompt_hash: int = 0  # stable 64-bit hash of the prompt text, for deterministic variety


@dataclass(frozen=True)
class Reply:
    """What the provider answers. Times are simulated seconds (the server scales them)."""

    served_model: str
    system_fingerprint: str | None
    prompt_tokens: int  # all input tokens, cached ones included (OpenAI's convention)
    output_tokens: int  # reasoning tokens included
    ttft_s: float
    decode_tokens_per_s: float
    finish_reason: FinishReason
    error_status: int | None = None  # answer this HTTP status instead (400, 404, 429, 5xx, 529)
    service_tier: str | None = None
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    retry_after_s: float | None = None  # sent with 429/503/529, in simulated seconds
    error_message: str | None = None


class Behaviour(Protocol):
    """Decides the reply to one request. Called on the server's event loop: keep it fast."""

    def reply(self, request: Request) -> Reply: ...


def fingerprint_of(served_model: str) -> str:
    """The deterministic system fingerprint the simulator gives a served model."""
    return "fp_sim_" + hashlib.sha256(served_model.encode()).hexdigest()[:10]


def prompt_hash_of(text: str) -> int:
    """Stable 64-bit hash of a prompt (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def estimate_prompt_tokens(prompt_chars: int, chars_per_token: float) -> int:
    """Input tokens for a prompt of ``prompt_chars`` characters at a tokenizer ratio."""
    return max(1, math.ceil(prompt_chars / chars_per_token))


def cap_output(natural_tokens: int, max_tokens: int | None) -> tuple[int, bool]:
    """Output tokens after the caller's cap, and whether the cap cut the answer.

    >>> cap_output(120, None), cap_output(120, 200), cap_output(120, 50)
    ((120, False), (120, False), (50, True))
    """
    if max_tokens is not None and natural_tokens > max_tokens:
        return max(max_tokens, 0), True
    return natural_tokens, False


@dataclass(frozen=True)
class FixedBehaviour:
    """The deterministic default: same request, same reply, every time.

    Served model is the dated snapshot of a known alias (else the requested string);
    the fingerprint is :func:`fingerprint_of` the served model; output length is
    ``base_output_tokens`` plus a spread derived from the prompt's hash, capped by
    ``max_tokens`` (finish ``length``); offered tools are always called. With
    ``known_models`` set, any other requested model gets a 404.

    >>> b = FixedBehaviour(known_models=frozenset({"gpt-4o"}))
    >>> def ask(model, **kw):
    ...     fields = dict(api="openai", request_model=model, prompt_tokens=10,
    ...                   prompt_chars=40, max_tokens=None, stream=False, tools=False,
    ...                   headers={}, now=0.0)
    ...     return b.reply(Request(**{**fields, **kw}))
    >>> ask("gpt-4o", max_tokens=5).output_tokens, ask("gpt-4o", max_tokens=5).finish_reason
    (5, 'length')
    >>> ask("gpt-4o", tools=True).finish_reason
    'tool_calls'
    >>> ask("gpt-9").error_status
    404
    """

    snapshots: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SNAPSHOTS))
    ttft_s: float = 0.35
    decode_tokens_per_s: float = 60.0
    chars_per_token: float = DEFAULT_CHARS_PER_TOKEN
    base_output_tokens: int = 24
    output_token_spread: int = 96
    tool_call_tokens: int = 18
    known_models: frozenset[str] | None = None

    def reply(self, request: Request) -> Reply:
        served = self.snapshots.get(request.request_model, request.request_model)
        tier = "default" if request.api == "openai" else "standard"
        if self.known_models is not None and request.request_model not in self.known_models:
            return Reply(
                served_model=served, system_fingerprint=None, prompt_tokens=0, output_tokens=0,
                ttft_s=0.0, decode_tokens_per_s=self.decode_tokens_per_s, finish_reason="stop",
                error_status=404,
            )
        finish: FinishReason
        if request.tools:
            natural, finish = self.tool_call_tokens, "tool_calls"
        else:
            spread = max(self.output_token_spread, 1)
            natural, finish = self.base_output_tokens + request.prompt_hash % spread, "stop"
        output, cut = cap_output(natural, request.max_tokens)
        return Reply(
            served_model=served,
            system_fingerprint=fingerprint_of(served),
            prompt_tokens=estimate_prompt_tokens(request.prompt_chars, self.chars_per_token),
            output_tokens=output,
            ttft_s=self.ttft_s,
            decode_tokens_per_s=self.decode_tokens_per_s,
            finish_reason="length" if cut else finish,
            service_tier=tier,
        )


class ScheduledBehaviour:
    """Switches behaviour at simulated event times: a swap at ``T`` is what callers see from ``T``.

    ``schedule`` is a list of ``(start_time, behaviour)``; a request at ``now`` is answered by
    the entry with the latest ``start_time <= now`` (before the first start, by the first).

    >>> before, after = FixedBehaviour(), FixedBehaviour(snapshots={"gpt-4o": "gpt-4o-mini"})
    >>> scheduled = ScheduledBehaviour([(0.0, before), (100.0, after)])
    >>> def served(now):
    ...     r = Request(api="openai", request_model="gpt-4o", prompt_tokens=1, prompt_chars=4,
    ...                 max_tokens=None, stream=False, tools=False, headers={}, now=now)
    ...     return scheduled.reply(r).served_model
    >>> served(99.9), served(100.0)
    ('gpt-4o-2024-08-06', 'gpt-4o-mini')
    """

    def __init__(self, schedule: Sequence[tuple[float, Behaviour]]) -> None:
        if not schedule:
            raise ValueError("ScheduledBehaviour needs at least one (start_time, behaviour)")
        self.schedule = list(schedule)
        ordered = sorted(self.schedule, key=lambda entry: entry[0])
        self._starts = [start for start, _ in ordered]
        self._behaviours = [behaviour for _, behaviour in ordered]

    def behaviour_at(self, now: float) -> Behaviour:
        """The behaviour in force at simulated time ``now``."""
        index = bisect.bisect_right(self._starts, now) - 1
        return self._behaviours[max(index, 0)]

    def reply(self, request: Request) -> Reply:
        return self.behaviour_at(request.now).reply(request)
