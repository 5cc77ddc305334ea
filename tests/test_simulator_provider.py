"""The simulated provider, driven by the real ``openai`` and ``anthropic`` SDKs over HTTP."""

from __future__ import annotations

import asyncio
import json
import math
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import anthropic
import openai
import pytest
from swapwatch.detector.simulator import anthropic_api, openai_api
from swapwatch.detector.simulator.behaviour import (
    FixedBehaviour,
    Reply,
    Request,
    ScheduledBehaviour,
    cap_output,
    fingerprint_of,
)
from swapwatch.detector.simulator.provider import ProviderServer, real_seconds, token_time_s

SPEED = 1000.0  # simulated seconds per real second: a 0.35 s ttft sleeps 0.35 ms
USER = [{"role": "user", "content": "What is the capital of France? Answer briefly."}]
WEATHER_TOOL_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city"],
}
OPENAI_TOOLS: Any = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather forecast", "parameters": WEATHER_TOOL_SCHEMA}}]
ANTHROPIC_TOOLS: Any = [{"name": "get_weather", "description": "Weather forecast",
                         "input_schema": WEATHER_TOOL_SCHEMA}]
CLAUDE = "claude-haiku-4-5"
CLAUDE_SNAPSHOT = "claude-haiku-4-5-20251001"


class SimClock:
    """An injected simulated clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class RecordingBehaviour:
    """Answers like FixedBehaviour and keeps the requests it saw."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._inner = FixedBehaviour()

    def reply(self, request: Request) -> Reply:
        self.requests.append(request)
        return self._inner.reply(request)


class FailFirst:
    """Answers ``status`` to the first ``failures`` requests, then like FixedBehaviour."""

    def __init__(self, status: int, failures: int = 1, retry_after_s: float | None = None) -> None:
        self.status, self.retry_after_s = status, retry_after_s
        self._left = failures
        self._lock = threading.Lock()

    def reply(self, request: Request) -> Reply:
        ok = FixedBehaviour().reply(request)
        with self._lock:
            if self._left > 0:
                self._left -= 1
                return replace(ok, error_status=self.status, retry_after_s=self.retry_after_s)
        return ok


@pytest.fixture(scope="module")
def server() -> Iterator[ProviderServer]:
    with ProviderServer(speed=SPEED, clock=SimClock(1_750_000_000.0)) as running:
        yield running


def oa(server: ProviderServer, **kw: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.openai_base_url, api_key="sim", **{"max_retries": 0, **kw})


def an(server: ProviderServer, **kw: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="sim",
                               **{"max_retries": 0, **kw})


# -- OpenAI -------------------------------------------------------------------------------


def test_openai_completion_has_snapshot_fingerprint_and_consistent_usage(server):
    completion = oa(server).chat.completions.create(model="gpt-4o", messages=USER)
    usage = completion.usage
    assert completion.model == "gpt-4o-2024-08-06"
    assert completion.system_fingerprint == fingerprint_of("gpt-4o-2024-08-06")
    assert completion.created == 1_750_000_000
    assert completion.service_tier == "default"
    assert completion.id.startswith("chatcmpl-")
    assert completion.choices[0].finish_reason == "stop"
    assert len(completion.choices[0].message.content.split()) == usage.completion_tokens
    assert usage.prompt_tokens == math.ceil(len(USER[0]["content"]) / 4)
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details.reasoning_tokens == 0


def test_openai_same_prompt_same_answer_and_max_tokens_cuts_with_length(server):
    client = oa(server)
    first = client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    again = client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert first.choices[0].message.content == again.choices[0].message.content
    cut = client.chat.completions.create(model="gpt-4o-mini", messages=USER,
                                         max_completion_tokens=4)
    assert cut.choices[0].finish_reason == "length"
    assert cut.usage.completion_tokens == 4
    assert len(cut.choices[0].message.content.split()) == 4


def test_openai_unknown_alias_is_served_as_requested(server):
    completion = oa(server).chat.completions.create(model="my-fine-tune", messages=USER)
    assert completion.model == "my-fine-tune"


def test_openai_stream_with_usage(server):
    stream = oa(server).chat.completions.create(
        model="gpt-4o", messages=USER, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert {c.model for c in chunks} == {"gpt-4o-2024-08-06"}
    assert {c.system_fingerprint for c in chunks} == {fingerprint_of("gpt-4o-2024-08-06")}
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks
                if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == len(text.split())
    assert all(c.usage is None for c in chunks[:-1])


def test_openai_stream_without_usage_option_sends_no_usage(server):
    chunks = list(oa(server).chat.completions.create(model="gpt-4o", messages=USER, stream=True))
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_openai_tool_call(server):
    completion = oa(server).chat.completions.create(model="gpt-4o", messages=USER,
                                                    tools=OPENAI_TOOLS)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    (tool_call,) = choice.message.tool_calls
    assert tool_call.function.name == "get_weather"
    assert tool_call.id.startswith("call_")
    arguments = json.loads(tool_call.function.arguments)
    assert isinstance(arguments["city"], str) and isinstance(arguments["days"], int)


def test_openai_tool_choice_none_answers_with_text(server):
    completion = oa(server).chat.completions.create(model="gpt-4o", messages=USER,
                                                    tools=OPENAI_TOOLS, tool_choice="none")
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.tool_calls is None


def test_openai_streamed_tool_call_reassembles_to_the_same_arguments(server):
    client = oa(server)
    whole = client.chat.completions.create(model="gpt-4o", messages=USER, tools=OPENAI_TOOLS)
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=USER,
                                                 tools=OPENAI_TOOLS, stream=True))
    deltas = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].function.name == "get_weather" and deltas[0].id.startswith("call_")
    arguments = "".join(d.function.arguments or "" for d in deltas)
    assert arguments == whole.choices[0].message.tool_calls[0].function.arguments
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_openai_async_client_stream(server):
    async def run() -> tuple[str, str]:
        client = openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="sim", max_retries=0)
        stream = await client.chat.completions.create(model="gpt-4.1", messages=USER, stream=True)
        models, text = set(), ""
        async for chunk in stream:
            models.add(chunk.model)
            text += chunk.choices[0].delta.content or ""
        await client.close()
        (model,) = models
        return model, text

    model, text = asyncio.run(run())
    assert model == "gpt-4.1-2025-04-14"
    assert text


def test_openai_models_list(server):
    ids = {m.id for m in oa(server).models.list()}
    assert {"gpt-4o", "gpt-4o-2024-08-06"} <= ids


def test_openai_invalid_request_is_bad_request(server):
    with pytest.raises(openai.BadRequestError) as caught:
        oa(server).chat.completions.create(model="gpt-4o", messages=[])
    assert caught.value.body["type"] == "invalid_request_error"
    assert caught.value.body["param"] == "messages"


def test_openai_unparsable_json_is_400(server):
    http = urllib.request.Request(server.openai_base_url + "/chat/completions", data=b"{nope",
                                  headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(http)
    assert caught.value.code == 400
    assert json.loads(caught.value.read())["error"]["type"] == "invalid_request_error"


def test_openai_unknown_model_is_not_found_when_behaviour_says_so():
    known = FixedBehaviour(known_models=frozenset({"gpt-4o"}))
    with ProviderServer(known, speed=math.inf) as server:
        client = oa(server)
        assert client.chat.completions.create(model="gpt-4o", messages=USER).model
        with pytest.raises(openai.NotFoundError) as caught:
            client.chat.completions.create(model="gpt-9", messages=USER)
    assert caught.value.code == "model_not_found"
    assert "gpt-9" in caught.value.message


@pytest.mark.parametrize("status", [500, 503])
def test_openai_server_errors_raise_internal_server_error(status):
    with (ProviderServer(FailFirst(status, failures=5), speed=math.inf) as server,
          pytest.raises(openai.InternalServerError) as caught):
        oa(server).chat.completions.create(model="gpt-4o", messages=USER)
    assert caught.value.status_code == status
    assert caught.value.body["type"] == "server_error"


def test_openai_rate_limit_headers_and_sdk_retry_honours_retry_after(monkeypatch):
    behaviour = FailFirst(429, failures=1, retry_after_s=20.0)
    with ProviderServer(behaviour, speed=SPEED) as server:
        client = oa(server, max_retries=2)
        waits: list[float] = []
        decide = client._calculate_retry_timeout

        def recording(*args: Any, **kwargs: Any) -> float:
            waits.append(decide(*args, **kwargs))
            return waits[-1]

        monkeypatch.setattr(client, "_calculate_retry_timeout", recording)
        completion = client.chat.completions.create(model="gpt-4o", messages=USER)
        assert completion.model == "gpt-4o-2024-08-06"
        assert server.requests_received == 2
        assert waits == [pytest.approx(20.0 / SPEED)]

    with (ProviderServer(FailFirst(429, failures=1, retry_after_s=20.0), speed=SPEED) as other,
          pytest.raises(openai.RateLimitError) as caught):
        oa(other).chat.completions.create(model="gpt-4o", messages=USER)
    headers = caught.value.response.headers
    assert headers["retry-after-ms"] == "20"
    assert headers["retry-after"] == "1"
    assert caught.value.code == "rate_limit_exceeded"


# -- Anthropic ----------------------------------------------------------------------------


def test_anthropic_message(server):
    message = an(server).messages.create(model=CLAUDE, max_tokens=1024, messages=USER,
                                         system="You are terse.")
    assert message.model == CLAUDE_SNAPSHOT
    assert message.id.startswith("msg_01")
    assert message.stop_reason == "end_turn"
    (block,) = message.content
    assert block.type == "text"
    assert len(block.text.split()) == message.usage.output_tokens
    prompt_chars = len("You are terse.") + 1 + len(USER[0]["content"])
    assert message.usage.input_tokens == math.ceil(prompt_chars / 4)
    assert message.usage.cache_read_input_tokens == 0


def test_anthropic_max_tokens_stop_reason(server):
    message = an(server).messages.create(model=CLAUDE, max_tokens=3, messages=USER)
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 3


def test_anthropic_stream_helper_accumulates_the_same_message(server):
    client = an(server)
    whole = client.messages.create(model=CLAUDE, max_tokens=1024, messages=USER)
    with client.messages.stream(model=CLAUDE, max_tokens=1024, messages=USER) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "content_block_delta" in kinds and "message_delta" in kinds
    assert final.model == CLAUDE_SNAPSHOT
    assert final.content[0].text == whole.content[0].text
    assert final.usage.output_tokens == whole.usage.output_tokens
    assert final.usage.input_tokens == whole.usage.input_tokens
    assert final.stop_reason == "end_turn"


def test_anthropic_tool_use_plain_and_streamed(server):
    client = an(server)
    message = client.messages.create(model=CLAUDE, max_tokens=1024, messages=USER,
                                     tools=ANTHROPIC_TOOLS)
    assert message.stop_reason == "tool_use"
    (block,) = message.content
    assert block.type == "tool_use" and block.name == "get_weather"
    assert block.id.startswith("toolu_01")
    assert isinstance(block.input["city"], str)
    with client.messages.stream(model=CLAUDE, max_tokens=1024, messages=USER,
                                tools=ANTHROPIC_TOOLS) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert final.content[0].input == block.input


def test_anthropic_async_raw_stream(server):
    async def run() -> list[Any]:
        client = anthropic.AsyncAnthropic(base_url=server.anthropic_base_url, api_key="sim",
                                          max_retries=0)
        events = [e async for e in await client.messages.create(
            model=CLAUDE, max_tokens=1024, messages=USER, stream=True)]
        await client.close()
        return events

    events = asyncio.run(run())
    assert events[0].message.model == CLAUDE_SNAPSHOT
    deltas = [e for e in events if e.type == "message_delta"]
    assert len(deltas) == 1 and deltas[0].delta.stop_reason == "end_turn"
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    assert len(text.split()) == deltas[0].usage.output_tokens


def test_anthropic_models_list(server):
    ids = [m.id for m in an(server).models.list()]
    assert CLAUDE in ids and CLAUDE_SNAPSHOT in ids


def test_content_filter_reaches_both_sdks():
    class Refusing:
        def reply(self, request: Request) -> Reply:
            return replace(FixedBehaviour().reply(request), output_tokens=0,
                           finish_reason="content_filter")

    with ProviderServer(Refusing(), speed=math.inf) as server:
        completion = oa(server).chat.completions.create(model="gpt-4o", messages=USER)
        message = an(server).messages.create(model=CLAUDE, max_tokens=10, messages=USER)
        with an(server).messages.stream(model=CLAUDE, max_tokens=10, messages=USER) as stream:
            streamed = stream.get_final_message()
    assert completion.choices[0].finish_reason == "content_filter"
    assert (message.stop_reason, message.content) == ("refusal", [])
    assert streamed.stop_reason == "refusal"


def test_anthropic_missing_max_tokens_is_bad_request(server):
    with pytest.raises(anthropic.BadRequestError) as caught:
        an(server).post("/v1/messages", cast_to=object,
                        body={"model": CLAUDE, "messages": USER})
    assert caught.value.body["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(("status", "error", "kind"), [
    (529, anthropic.OverloadedError, "overloaded_error"),
    (429, anthropic.RateLimitError, "rate_limit_error"),
    (500, anthropic.InternalServerError, "api_error"),
    (404, anthropic.NotFoundError, "not_found_error"),
    (400, anthropic.BadRequestError, "invalid_request_error"),
])
def test_anthropic_errors_map_to_sdk_exceptions(status, error, kind):
    with (ProviderServer(FailFirst(status, failures=5, retry_after_s=3.0), speed=SPEED) as server,
          pytest.raises(error) as caught):
        an(server).messages.create(model=CLAUDE, max_tokens=10, messages=USER)
    assert caught.value.body["error"]["type"] == kind
    assert caught.value.response.headers.get("request-id", "").startswith("req_")


def test_anthropic_sdk_retries_after_429(monkeypatch):
    with ProviderServer(FailFirst(429, retry_after_s=30.0), speed=SPEED) as server:
        client = an(server, max_retries=1)
        waits: list[float] = []
        decide = client._calculate_retry_timeout

        def recording(*args: Any, **kwargs: Any) -> float:
            waits.append(decide(*args, **kwargs))
            return waits[-1]

        monkeypatch.setattr(client, "_calculate_retry_timeout", recording)
        message = client.messages.create(model=CLAUDE, max_tokens=10, messages=USER)
        assert message.model == CLAUDE_SNAPSHOT
        assert server.requests_received == 2
    assert waits == [pytest.approx(30.0 / SPEED)]


# -- behaviour wiring ---------------------------------------------------------------------


def test_scheduled_swap_changes_what_the_sdk_sees_from_its_time_on():
    swap_at = 1_750_000_600.0
    clock = SimClock(swap_at - 60)
    swapped = FixedBehaviour(snapshots={"gpt-4o": "gpt-4o-mini-2024-07-18",
                                        "claude-haiku-4-5": "claude-3-5-haiku-20241022"})
    behaviour = ScheduledBehaviour([(0.0, FixedBehaviour()), (swap_at, swapped)])
    with ProviderServer(behaviour, speed=math.inf, clock=clock) as server:
        openai_client, anthropic_client = oa(server), an(server)

        def seen() -> tuple[str, str | None, str]:
            completion = openai_client.chat.completions.create(model="gpt-4o", messages=USER)
            message = anthropic_client.messages.create(model=CLAUDE, max_tokens=10, messages=USER)
            return completion.model, completion.system_fingerprint, message.model

        before = seen()
        clock.now = swap_at - 0.001
        just_before = seen()
        clock.now = swap_at
        at_swap = seen()
    assert before == just_before == ("gpt-4o-2024-08-06", fingerprint_of("gpt-4o-2024-08-06"),
                                     CLAUDE_SNAPSHOT)
    assert at_swap == ("gpt-4o-mini-2024-07-18", fingerprint_of("gpt-4o-mini-2024-07-18"),
                       "claude-3-5-haiku-20241022")


def test_behaviour_sees_request_fields_and_no_credentials():
    recording = RecordingBehaviour()
    with ProviderServer(recording, speed=math.inf, clock=SimClock(42.0)) as server:
        oa(server, default_headers={"x-swapwatch-tenant": "acme"}).chat.completions.create(
            model="gpt-4o", messages=USER, max_tokens=50, tools=OPENAI_TOOLS)
        list(an(server).messages.create(model=CLAUDE, max_tokens=77, messages=USER, stream=True))
    first, second = recording.requests
    assert (first.api, first.request_model, first.max_tokens, first.stream, first.tools) == (
        "openai", "gpt-4o", 50, False, True)
    assert first.headers["x-swapwatch-tenant"] == "acme"
    assert first.prompt_chars == len(USER[0]["content"]) and first.now == 42.0
    assert (second.api, second.max_tokens, second.stream, second.tools) == (
        "anthropic", 77, True, False)
    for seen in (first, second):
        assert not {"authorization", "x-api-key"} & set(seen.headers)


def test_a_failing_behaviour_is_a_500_not_a_dead_server():
    class Broken:
        def reply(self, request: Request) -> Reply:
            raise RuntimeError("bug")

    with ProviderServer(Broken(), speed=math.inf) as server:
        with pytest.raises(openai.InternalServerError):
            oa(server).chat.completions.create(model="gpt-4o", messages=USER)
        server.behaviour = FixedBehaviour()
        assert oa(server).chat.completions.create(model="gpt-4o", messages=USER).model


def test_caller_hanging_up_mid_stream_and_stopping_mid_stream_are_clean():
    slow = FixedBehaviour(ttft_s=0.0, decode_tokens_per_s=20.0, base_output_tokens=2000)
    server = ProviderServer(slow, speed=1.0).start()
    client = oa(server)
    with client.chat.completions.create(model="gpt-4o", messages=USER, stream=True) as stream:
        assert next(iter(stream)).choices[0].delta.role == "assistant"
    # the server noticed nothing wrong: it still answers
    quick = client.chat.completions.create(model="gpt-4o", messages=USER, max_tokens=1)
    assert quick.usage.completion_tokens == 1
    stream = client.chat.completions.create(model="gpt-4o", messages=USER, stream=True)
    next(iter(stream))
    server.stop()  # cuts the open stream after a short grace instead of hanging
    with pytest.raises(openai.APIError):
        list(stream)


def test_server_lifecycle_and_speed_validation():
    server = ProviderServer(speed=math.inf).start()
    url = server.openai_base_url
    assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
    server.stop()
    server.stop()  # idempotent
    with pytest.raises(RuntimeError):
        _ = server.openai_base_url
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError):
            ProviderServer(speed=bad)


# -- pure pieces --------------------------------------------------------------------------


@pytest.mark.parametrize(("natural", "cap", "expected"), [
    (10, None, (10, False)), (10, 10, (10, False)), (10, 9, (9, True)), (0, 5, (0, False)),
])
def test_cap_output(natural, cap, expected):
    assert cap_output(natural, cap) == expected


@pytest.mark.parametrize(("simulated", "speed", "expected"), [
    (1.0, 1.0, 1.0), (1.0, 4.0, 0.25), (1.0, math.inf, 0.0), (0.0, 1.0, 0.0), (-1.0, 1.0, 0.0),
])
def test_real_seconds(simulated, speed, expected):
    assert real_seconds(simulated, speed) == expected


@pytest.mark.parametrize("api", [openai_api, anthropic_api])
@pytest.mark.parametrize("finish", ["stop", "length", "tool_calls", "content_filter"])
def test_stream_frames_are_paced_by_tokens(api, finish):
    body: dict[str, Any] = {"model": "m", "max_tokens": 40, "messages": USER, "stream": True,
                            "stream_options": {"include_usage": True}}
    body["tools"] = OPENAI_TOOLS if api is openai_api else ANTHROPIC_TOOLS
    call = api.parse_request(body, {}, 0.0)
    reply = Reply("m", None, 10, 25, ttft_s=0.5, decode_tokens_per_s=50.0, finish_reason=finish)
    frames = api.render_stream(call, reply, seq=3)
    done = [f.tokens_done for f in frames]
    assert done == sorted(done)
    assert done[0] == 0 and done[-1] == 25
    assert token_time_s(reply, done[0]) == 0.5
    assert token_time_s(reply, done[-1]) == pytest.approx(0.5 + 25 / 50.0)
