"""Decisions of swapwatch.instrumentation as table tests, and the processor's contract:
tags at start, cost on the exported copy, never raises, passes everything on."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import Any

import pytest
from opentelemetry import baggage, propagate
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from swapwatch.detector.ingest import attributes as attr
from swapwatch.instrumentation import InstrumentationConfig, SwapwatchSpanProcessor, surface
from swapwatch.instrumentation.choice import instrumentors_to_load
from swapwatch.instrumentation.config import opt_in_latest_gen_ai
from swapwatch.instrumentation.context import current_tags
from swapwatch.instrumentation.distro import apply_environment_defaults
from swapwatch.instrumentation.enrich import call_cost, is_llm_span
from swapwatch.instrumentation.hooks import CallSlot, active_call
from swapwatch.instrumentation.prompt import prompt_chars

CHAT = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o"}


@pytest.mark.parametrize(("family", "kwargs", "expected"), [
    ("openai.chat", {"messages": [{"role": "user", "content": "abc"}]}, 3),
    ("openai.chat", {"messages": [{"role": "system", "content": "ab"},
                                  {"role": "user", "content": [{"type": "text", "text": "cd"},
                                                               {"type": "image_url"}]},
                                  {"role": "assistant", "content": None,
                                   "tool_calls": [{"id": "x"}]},
                                  {"role": "tool", "content": "efg"}]}, 7),
    ("anthropic.messages", {"system": [{"type": "text", "text": "sys"}],
                            "messages": [{"role": "user", "content": [
                                {"type": "tool_result", "tool_use_id": "t",
                                 "content": [{"type": "text", "text": "12345"}]}]}]}, 8),
    ("openai.responses", {"input": [{"role": "user", "content": [
        {"type": "input_text", "text": "hello"}]}]}, 5),
    ("openai.completions", {"prompt": [1, 2, 3]}, 0),  # token ids: no characters
    ("openai.chat", {"model": "gpt-4o"}, None),
    ("openai.embeddings", {"input": "abc"}, None),  # not a family we count
    ("openai.chat", {"messages": object()}, 0),  # odd shapes count nothing, never raise
])
def test_prompt_chars(family: str, kwargs: dict[str, Any], expected: int | None) -> None:
    assert prompt_chars(family, kwargs) == expected


@pytest.mark.parametrize(("attributes", "expected"), [
    (CHAT, True),
    ({"gen_ai.operation.name": "embeddings", "gen_ai.request.model": "e"}, False),
    ({"gen_ai.operation.name": "execute_tool"}, False),
    ({"openinference.span.kind": "LLM", "llm.system": "openai"}, True),
    ({"openinference.span.kind": "CHAIN"}, False),
    ({"gen_ai.system": "openai"}, True),
    ({}, False),
    (None, False),
])
def test_is_llm_span(attributes: dict[str, Any] | None, expected: bool) -> None:
    assert is_llm_span(attributes) is expected


def _price(provider: str | None, model: str, input_tokens: int, output_tokens: int,
           cached: int | None, *, at_ns: int | None) -> float:
    return float(f"{len(provider or '')}{input_tokens}{output_tokens}{cached or 0}")


@pytest.mark.parametrize(("attributes", "expected"), [
    ({**CHAT, "gen_ai.usage.input_tokens": 3, "gen_ai.usage.output_tokens": 4}, 6340.0),
    ({**CHAT, "gen_ai.usage.input_tokens": 3, "gen_ai.usage.output_tokens": 4,
      "gen_ai.usage.cache_read.input_tokens": 2}, 6342.0),
    ({"gen_ai.system": "openai", "gen_ai.request.model": "m", "gen_ai.usage.prompt_tokens": 1,
      "gen_ai.usage.completion_tokens": 2}, 6120.0),  # older names
    ({"llm.provider": "anthropic", "llm.model_name": "m", "llm.token_count.prompt": 5,
      "llm.token_count.completion": 6}, 9560.0),  # OpenInference
    ({**CHAT, "gen_ai.usage.input_tokens": 3}, None),  # no output tokens: unknown
    ({"gen_ai.usage.input_tokens": 3, "gen_ai.usage.output_tokens": 4}, None),  # no model
])
def test_call_cost_reads_every_dialect(attributes: dict[str, Any], expected: float | None) -> None:
    assert call_cost(attributes, None, _price) == expected


def test_call_cost_uses_the_served_model_and_the_real_catalog() -> None:
    served_mini = {**CHAT, "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                   "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 1000}
    requested_only = {**served_mini}
    del requested_only["gen_ai.response.model"]
    mini, full = call_cost(served_mini, None), call_cost(requested_only, None)
    assert mini is not None and full is not None
    assert mini < full / 10  # priced as the cheap model that actually answered


OPENAI_ALL = {"opentelemetry-instrumentation-genai-openai", "opentelemetry-instrumentation-openai",
              "opentelemetry-instrumentation-openai-v2", "openinference-instrumentation-openai"}


@pytest.mark.parametrize(("sdk", "installed", "native", "broken", "choice", "expected"), [
    ("openai", OPENAI_ALL, False, set(), "preferred",
     {"opentelemetry-instrumentation-genai-openai"}),
    ("openai", OPENAI_ALL, False, {"opentelemetry-instrumentation-genai-openai"}, "preferred",
     {"opentelemetry-instrumentation-openai-v2"}),
    ("openai", OPENAI_ALL - {"opentelemetry-instrumentation-genai-openai"}, False,
     {"opentelemetry-instrumentation-openai-v2"}, "preferred",
     {"opentelemetry-instrumentation-openai"}),
    ("openai", OPENAI_ALL, False, set(), "all", OPENAI_ALL),
    ("openai", {"someone-elses-openai"}, False, set(), "preferred", {"someone-elses-openai"}),
    ("openai", set(), False, set(), "preferred", set()),
    ("anthropic", {"opentelemetry-instrumentation-anthropic",
                   "opentelemetry-instrumentation-genai-anthropic"}, True, set(), "preferred",
     set()),
    ("anthropic", {"opentelemetry-instrumentation-anthropic",
                   "opentelemetry-instrumentation-genai-anthropic"}, False, set(), "preferred",
     {"opentelemetry-instrumentation-genai-anthropic"}),
    ("requests", {"opentelemetry-instrumentation-requests"}, False, set(), "preferred",
     {"opentelemetry-instrumentation-requests"}),
])
def test_one_instrumentor_per_sdk(sdk: str, installed: set[str], native: bool, broken: set[str],
                                  choice: Any, expected: set[str]) -> None:
    asked: list[str] = []

    def loads(distribution: str) -> bool:
        asked.append(distribution)
        return distribution not in broken

    chosen = instrumentors_to_load(sdk, installed, sdk_traces_itself=native, choice=choice,
                                   loads=loads)
    assert chosen == expected
    assert len(asked) == len(set(asked)) <= len(broken) + 1  # stops at the first that loads


@pytest.mark.parametrize(("before", "after"), [
    ({}, "gen_ai_latest_experimental"),
    ({"OTEL_SEMCONV_STABILITY_OPT_IN": "http"}, "http,gen_ai_latest_experimental"),
    ({"OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental, http"},
     "gen_ai_latest_experimental, http"),
])
def test_semconv_opt_in(before: dict[str, str], after: str) -> None:
    env = dict(before)
    opt_in_latest_gen_ai(env)
    assert env["OTEL_SEMCONV_STABILITY_OPT_IN"] == after


def test_distro_defaults_never_override_the_user() -> None:
    env = {"OTEL_TRACES_EXPORTER": "console", "TRACELOOP_TRACE_CONTENT": "true"}
    apply_environment_defaults(env)
    assert env["OTEL_TRACES_EXPORTER"] == "console"
    assert env["TRACELOOP_TRACE_CONTENT"] == "true"
    assert env["OTEL_PYTHON_CONFIGURATOR"] == "swapwatch"
    assert env["OPENINFERENCE_HIDE_INPUTS"] == "true"


def test_config_from_env_validates() -> None:
    cfg = InstrumentationConfig.from_env({"SWAPWATCH_TENANT": "acme",
                                          "SWAPWATCH_GENAI_INSTRUMENTORS": "ALL"})
    assert (cfg.default_tenant, cfg.instrumentor_choice, cfg.compute_cost) == ("acme", "all", True)
    with pytest.raises(ValueError):
        InstrumentationConfig.from_env({"SWAPWATCH_GENAI_INSTRUMENTORS": "some"})


# -- surface(): context, threads, tasks, decorator, baggage --------------------------------


def test_surface_follows_threads_with_copied_context_and_async_tasks() -> None:
    seen: dict[str, tuple[str | None, str | None]] = {}

    async def task(name: str) -> None:
        await asyncio.sleep(0)
        seen[name] = current_tags()

    async def main() -> None:
        with surface("chat", tenant="acme"):
            pending = asyncio.gather(task("task-a"), task("task-b"))
        with surface("search"):
            await asyncio.create_task(task("task-c"))
        await pending

    with surface("autocomplete", tenant="globex"):
        thread = threading.Thread(target=contextvars.copy_context().run,
                                  args=(lambda: seen.__setitem__("thread", current_tags()),))
        bare = threading.Thread(target=lambda: seen.__setitem__("bare", current_tags()))
        thread.start(), bare.start()
        thread.join(), bare.join()
    asyncio.run(main())
    assert seen == {"thread": ("autocomplete", "globex"), "bare": (None, None),
                    "task-a": ("chat", "acme"), "task-b": ("chat", "acme"),
                    "task-c": ("search", None)}


def test_surface_decorates_coroutines_and_async_with() -> None:
    @surface("summaries", tenant="acme")
    async def summarise() -> tuple[str | None, str | None]:
        await asyncio.sleep(0)
        return current_tags()

    async def main() -> list[tuple[str | None, str | None]]:
        async with surface("outer"):
            inner = await summarise()
            outer = current_tags()
        return [inner, outer, current_tags()]

    assert asyncio.run(main()) == [("summaries", "acme"), ("outer", None), (None, None)]


def test_surface_travels_as_baggage_unless_told_not_to() -> None:
    carrier: dict[str, str] = {}
    with surface("autocomplete", tenant="acme"):
        propagate.inject(carrier)
    assert "swapwatch.surface=autocomplete" in carrier["baggage"]
    downstream = propagate.extract(carrier)
    assert current_tags(downstream) == ("autocomplete", "acme")

    private: dict[str, str] = {}
    with surface("autocomplete", tenant="acme", propagate=False):
        propagate.inject(private)
        assert current_tags() == ("autocomplete", "acme")
        assert dict(baggage.get_all()) == {}
    assert "baggage" not in private


# -- the processor ---------------------------------------------------------------------------


def _pipeline(price: Any = None, config: InstrumentationConfig | None = None,
              ) -> tuple[TracerProvider, InMemorySpanExporter, SwapwatchSpanProcessor]:
    exported = InMemorySpanExporter()
    kwargs = {"price": price} if price is not None else {}
    processor = SwapwatchSpanProcessor(SimpleSpanProcessor(exported), config, **kwargs)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider, exported, processor


def test_processor_tags_llm_spans_only_and_prices_them() -> None:
    provider, exported, processor = _pipeline(
        config=InstrumentationConfig(default_surface="fallback", default_tenant="t0"))
    tracer = provider.get_tracer("test")
    with (surface("autocomplete"), tracer.start_as_current_span("GET /"),
          tracer.start_as_current_span("chat gpt-4o", attributes=CHAT) as span):
        span.set_attributes({"gen_ai.response.model": "gpt-4o-2024-08-06",
                             "gen_ai.usage.input_tokens": 1000,
                             "gen_ai.usage.output_tokens": 200})
    with tracer.start_as_current_span("chat gpt-4o", attributes=CHAT):
        pass  # no usage: no cost, but the default surface and tenant
    llm, http, bare = exported.get_finished_spans()
    assert (http.name, attr.SURFACE in http.attributes) == ("GET /", False)
    assert llm.attributes[attr.SURFACE] == "autocomplete"
    assert llm.attributes[attr.TENANT] == "t0"
    assert llm.attributes[attr.COST_USD] == pytest.approx(0.0045)
    assert bare.attributes[attr.SURFACE] == "fallback" and attr.COST_USD not in bare.attributes
    assert processor.failures == 0


def test_processor_never_raises_and_still_exports() -> None:
    def broken_price(*args: Any, **kwargs: Any) -> float:
        raise RuntimeError("catalog exploded")

    provider, exported, processor = _pipeline(price=broken_price)
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("chat", attributes={
            **CHAT, "gen_ai.usage.input_tokens": 1, "gen_ai.usage.output_tokens": 1}):
        pass
    (span,) = exported.get_finished_spans()
    assert attr.COST_USD not in span.attributes
    assert processor.failures == 0  # call_cost swallows pricing errors itself

    class ExplodingSlot(CallSlot):
        def claim(self, span: Any) -> None:
            raise RuntimeError("boom")

    with (active_call(ExplodingSlot("openai.chat", 5, "test")),
          tracer.start_as_current_span("chat", attributes=CHAT)):
        pass
    assert len(exported.get_finished_spans()) == 2
    assert processor.failures == 1


def test_processor_without_export_only_tags_and_cost_can_be_turned_off() -> None:
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SwapwatchSpanProcessor(
        config=InstrumentationConfig(default_surface="s")))
    provider.add_span_processor(SimpleSpanProcessor(exported))
    provider2, exported2, _ = _pipeline(config=InstrumentationConfig(compute_cost=False))
    for p in (provider, provider2):
        with p.get_tracer("t").start_as_current_span("chat", attributes={
                **CHAT, "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 10}):
            pass
    (tagged,) = exported.get_finished_spans()
    (uncosted,) = exported2.get_finished_spans()
    assert tagged.attributes[attr.SURFACE] == "s" and attr.COST_USD not in tagged.attributes
    assert attr.COST_USD not in uncosted.attributes


def test_call_slot_is_claimed_by_the_first_llm_span_of_its_vendor() -> None:
    provider, exported, _ = _pipeline()
    tracer = provider.get_tracer("opentelemetry.instrumentation.genai.openai")
    other = provider.get_tracer("opentelemetry.instrumentation.httpx")
    with (active_call(CallSlot("openai.chat", 42, "openai")) as slot,
          other.start_as_current_span("POST", attributes={"http.request.method": "POST"}),
          tracer.start_as_current_span("chat", attributes=CHAT)):
        pass
    assert slot.span is not None
    post_span = next(s for s in exported.get_finished_spans() if s.name == "POST")
    chat_span = next(s for s in exported.get_finished_spans() if s.name == "chat")
    assert attr.PROMPT_CHARS not in post_span.attributes
    assert chat_span.attributes[attr.PROMPT_CHARS] == 42


def test_overhead_benchmark_runs_and_reports_every_measurement(
        capsys: pytest.CaptureFixture[str]) -> None:
    from swapwatch.instrumentation import bench

    assert bench.main(["--calls", "3", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    for measurement in ("hooks:", "spans:", "sdk:", "added_pct_of_300ms"):
        assert measurement in out
    assert "skipped" not in out  # the real SDK path ran
