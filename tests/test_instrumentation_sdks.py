"""The real openai and anthropic SDKs (sync, async, streaming) against the simulated provider,
instrumented two ways, exported by the real OTLP exporters to a local receiver:

* zero-code: this file, run as a service under ``opentelemetry-instrument`` with only
  ``OTEL_*`` / ``SWAPWATCH_*`` environment variables (OTLP/gRPC);
* programmatic: ``swapwatch.instrumentation.configure(...)`` in this process (OTLP/HTTP).

Each call's prompt has its own length, so a span is matched to its call by
``swapwatch.prompt.chars``; the prompt text never appears in any exported attribute.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import swapwatch.instrumentation as swi

SECRET = "secret-prompt"


@dataclass(frozen=True)
class Call:
    key: str
    sdk: str  # "openai" | "anthropic"
    mode: str  # "sync" | "async"
    stream: bool
    chars: int  # prompt characters (system prompt included)
    surface: str | None  # None: the default surface
    tenant: str | None


CALLS = [
    Call("openai-sync", "openai", "sync", False, 31, "autocomplete", "acme"),
    Call("openai-stream", "openai", "sync", True, 32, "autocomplete", "acme"),
    Call("openai-thread", "openai", "sync", False, 33, "autocomplete", "acme"),
    Call("openai-async", "openai", "async", False, 34, "autocomplete", "acme"),
    Call("openai-async-stream", "openai", "async", True, 35, "autocomplete", "acme"),
    Call("openai-default", "openai", "sync", False, 36, None, None),
    Call("anthropic-sync", "anthropic", "sync", False, 41, "autocomplete", "acme"),
    Call("anthropic-stream", "anthropic", "sync", True, 42, "autocomplete", "acme"),
    Call("anthropic-async", "anthropic", "async", False, 43, "autocomplete", "acme"),
    Call("anthropic-async-stream", "anthropic", "async", True, 44, "autocomplete", "acme"),
    Call("anthropic-decorated", "anthropic", "async", False, 45, "summaries", "acme"),
]
BY_CHARS = {call.chars: call for call in CALLS}
SYSTEM = "Be brief."  # Anthropic calls send it: it counts
OPENAI_MODEL, ANTHROPIC_MODEL = "gpt-4o", "claude-haiku-4-5"


def _prompt(call: Call) -> str:
    size = call.chars - (len(SYSTEM) if call.sdk == "anthropic" else 0)
    return (SECRET + "-" + "x" * size)[:size]


# -- the service: the same code runs in both setups -------------------------------------------


class Service:
    """A tiny service making one LLM call per :data:`CALLS` entry."""

    def __init__(self, openai_url: str, anthropic_url: str,
                 anthropic_options: dict[str, Any] | None = None) -> None:
        import anthropic
        import openai

        options: dict[str, Any] = {"api_key": "sim", "max_retries": 0}
        self.openai = openai.OpenAI(base_url=openai_url, **options)
        self.async_openai = openai.AsyncOpenAI(base_url=openai_url, **options)
        if anthropic_options:
            options["open_telemetry"] = anthropic_options
        self.anthropic = anthropic.Anthropic(base_url=anthropic_url, **options)
        self.async_anthropic = anthropic.AsyncAnthropic(base_url=anthropic_url, **options)

    def sync_call(self, call: Call) -> None:
        messages = [{"role": "user", "content": _prompt(call)}]
        if call.sdk == "openai":
            result: Any = self.openai.chat.completions.create(
                model=OPENAI_MODEL, messages=messages, max_tokens=6, stream=call.stream,
                **({"stream_options": {"include_usage": True}} if call.stream else {}))
        else:
            result = self.anthropic.messages.create(
                model=ANTHROPIC_MODEL, system=SYSTEM, messages=messages, max_tokens=6,
                stream=call.stream)
        if call.stream:
            for _ in result:
                pass

    async def async_call(self, call: Call) -> None:
        messages = [{"role": "user", "content": _prompt(call)}]
        if call.sdk == "openai":
            result: Any = await self.async_openai.chat.completions.create(
                model=OPENAI_MODEL, messages=messages, max_tokens=6, stream=call.stream,
                **({"stream_options": {"include_usage": True}} if call.stream else {}))
        else:
            result = await self.async_anthropic.messages.create(
                model=ANTHROPIC_MODEL, system=SYSTEM, messages=messages, max_tokens=6,
                stream=call.stream)
        if call.stream:
            async for _ in result:
                pass

    def run(self) -> None:
        calls = {call.key: call for call in CALLS}
        with swi.surface("autocomplete", tenant="acme"):
            for key in ("openai-sync", "openai-stream", "anthropic-sync", "anthropic-stream"):
                self.sync_call(calls[key])
            worker = threading.Thread(target=contextvars.copy_context().run,
                                      args=(self.sync_call, calls["openai-thread"]))
            worker.start()
            worker.join()
            asyncio.run(self._run_async(calls))  # the scope is inherited by the tasks
        self.sync_call(calls["openai-default"])

    async def _run_async(self, calls: dict[str, Call]) -> None:
        @swi.surface("summaries")  # the tenant is inherited from the enclosing scope
        async def summarise() -> None:
            await self.async_call(calls["anthropic-decorated"])

        await asyncio.gather(*(asyncio.create_task(self.async_call(calls[key])) for key in (
            "openai-async", "openai-async-stream", "anthropic-async", "anthropic-async-stream")))
        await summarise()


# -- what every exported LLM span must say ----------------------------------------------------


def assert_enriched(spans: list[Any], default_surface: str,
                    calls: list[Call] = CALLS) -> None:
    llm = [s for s in spans if "gen_ai.operation.name" in s.attributes]
    by_chars: dict[int, list[Any]] = {}
    for span in llm:
        by_chars.setdefault(span.attributes.get("swapwatch.prompt.chars"), []).append(span)
    # exactly one LLM span per call, although four OpenAI instrumentors are installed
    assert {chars: len(found) for chars, found in by_chars.items()} == {
        call.chars: 1 for call in calls}
    for chars, (span,) in by_chars.items():
        call, a = BY_CHARS[chars], span.attributes
        assert a["gen_ai.provider.name"] == call.sdk, call.key
        assert a.get("swapwatch.surface") == (call.surface or default_surface), call.key
        assert a.get("swapwatch.tenant") == call.tenant, call.key
        assert a["swapwatch.cost.usd"] > 0, call.key
        assert a["gen_ai.usage.output_tokens"] > 0, call.key
        assert a.get("gen_ai.request.stream", False) is call.stream, call.key
        if call.stream:
            assert a["gen_ai.response.time_to_first_chunk"] > 0, call.key
        if call.sdk == "openai":
            assert span.scope == "opentelemetry.instrumentation.genai.openai", call.key
            assert a["gen_ai.response.model"] == "gpt-4o-2024-08-06", call.key
            assert a["openai.response.system_fingerprint"].startswith("fp_sim_"), call.key
            assert a["openai.response.service_tier"] == "default", call.key
        else:
            assert span.scope == "com.anthropic.sdk.python", call.key
            assert a["gen_ai.response.model"] == "claude-haiku-4-5-20251001", call.key
        for name, value in a.items():  # content capture is off
            assert SECRET not in str(value), (call.key, name)
            assert not name.startswith(("gen_ai.input", "gen_ai.output", "gen_ai.prompt")), name


# -- zero-code ---------------------------------------------------------------------------------


class BaggageRecorder:
    """The simulator's default behaviour, noting the ``baggage`` header of each request."""

    def __init__(self) -> None:
        from swapwatch.detector.simulator.behaviour import FixedBehaviour

        self.inner = FixedBehaviour()
        self.seen: list[str] = []

    def reply(self, request: Any) -> Any:
        if request.headers.get("baggage"):
            self.seen.append(request.headers["baggage"])
        return self.inner.reply(request)


@pytest.fixture(scope="module")
def simulated_provider() -> Iterator[Any]:
    from swapwatch.detector.simulator.provider import ProviderServer

    with ProviderServer(BaggageRecorder(), speed=50) as server:
        yield server


@pytest.fixture(scope="module")
def receiver() -> Iterator[Any]:
    from support.otlp_receiver import OtlpReceiver

    with OtlpReceiver() as otlp:
        yield otlp


def _run_zero_code(receiver: Any, simulated_provider: Any, endpoint: str,
                   **extra_env: str) -> None:
    receiver.clear()
    bin_dir = Path(sys.executable).parent
    # Exactly the variables of the README's "Instrument your service" section.
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("OTEL_", "SWAPWATCH_", "TRACELOOP_", "OPENINFERENCE_"))}
    env.pop("PYTHONPATH", None)
    env.update({
        "OTEL_SERVICE_NAME": "checkout",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_PYTHON_DISTRO": "swapwatch",  # opentelemetry-distro is installed here too
        "SWAPWATCH_SURFACE": "checkout-default",
        "SIM_OPENAI_URL": simulated_provider.openai_base_url,
        "SIM_ANTHROPIC_URL": simulated_provider.anthropic_base_url,
        **extra_env,
    })
    done = subprocess.run([str(bin_dir / "opentelemetry-instrument"), sys.executable, __file__],
                          env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "Traceback" not in done.stderr, done.stderr[-4000:]


def _llm_span_count(spans: list[Any]) -> int:
    return sum("gen_ai.operation.name" in s.attributes for s in spans)


@pytest.fixture(scope="module")
def zero_code_spans(simulated_provider: Any, receiver: Any) -> list[Any]:
    _run_zero_code(receiver, simulated_provider, receiver.grpc_endpoint)
    return receiver.wait_for_spans(lambda spans: _llm_span_count(spans) >= len(CALLS))


def test_zero_code_enriches_every_llm_span(zero_code_spans: list[Any]) -> None:
    assert_enriched(zero_code_spans, default_surface="checkout-default")
    assert {s.transport for s in zero_code_spans} == {"grpc"}
    assert {s.resource["service.name"] for s in zero_code_spans} == {"checkout"}


def test_zero_code_sends_surface_as_baggage_to_downstream_services(
        zero_code_spans: list[Any], simulated_provider: Any) -> None:
    # The Anthropic SDK propagates trace context (and baggage) on its requests; the
    # simulated provider stands in for any downstream service here.
    seen = simulated_provider.behaviour.seen
    assert any("swapwatch.surface=autocomplete" in b and "swapwatch.tenant=acme" in b
               for b in seen), seen


def test_zero_code_over_http_and_the_standard_switch_still_turns_an_sdk_off(
        simulated_provider: Any, receiver: Any) -> None:
    _run_zero_code(receiver, simulated_provider, receiver.http_endpoint,
                   OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
                   OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="openai")
    anthropic_calls = [call for call in CALLS if call.sdk == "anthropic"]
    spans = receiver.wait_for_spans(lambda found: _llm_span_count(found) >= len(anthropic_calls))
    assert_enriched(spans, default_surface="checkout-default", calls=anthropic_calls)
    assert {s.transport for s in spans} == {"http"}


# -- programmatic ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def programmatic_spans(simulated_provider: Any, receiver: Any) -> Iterator[list[Any]]:
    from swapwatch.instrumentation.hooks import uninstall_request_hooks

    receiver.clear()
    provider = swi.configure(
        service_name="billing", endpoint=receiver.http_endpoint, protocol="http/protobuf",
        config=swi.InstrumentationConfig(default_surface="billing-default"), set_global=False)
    try:
        Service(simulated_provider.openai_base_url, simulated_provider.anthropic_base_url,
                anthropic_options={"tracer_provider": provider}).run()
        provider.force_flush()
        yield receiver.wait_for_spans(
            lambda spans: sum("gen_ai.operation.name" in s.attributes for s in spans)
            >= len(CALLS))
    finally:
        provider.shutdown()
        swi.uninstrument()
        uninstall_request_hooks()


def test_programmatic_setup_enriches_every_llm_span(programmatic_spans: list[Any]) -> None:
    assert_enriched(programmatic_spans, default_surface="billing-default")
    assert {s.transport for s in programmatic_spans} == {"http"}
    assert {s.resource["service.name"] for s in programmatic_spans} == {"billing"}


if __name__ == "__main__":  # the zero-code service: no OpenTelemetry code at all
    Service(os.environ["SIM_OPENAI_URL"], os.environ["SIM_ANTHROPIC_URL"]).run()
