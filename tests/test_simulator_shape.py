"""`swapwatch simulate` writes spans shaped exactly like the real instrumented SDK's.

The same request goes two ways: through the real ``openai`` SDK instrumented by
``swapwatch.instrumentation`` against the HTTP simulator serving the same model profile
(``ProfileBehaviour``), exported by the real OTLP encoder; and through the direct generator
and span writer. Attribute keys and value types, span fields, kind, name, scope and resource
keys must be the same, and both must read back into the same ``LlmCall`` fields.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from typing import Any

import openai
import pytest
import swapwatch.instrumentation as swi
from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.trace.v1.trace_pb2 import Span, TracesData
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from swapwatch.detector.calls import LlmCall
from swapwatch.detector.ingest.decode import calls_from_json_line, calls_from_protobuf
from swapwatch.detector.simulator.generate import generate
from swapwatch.detector.simulator.profile_behaviour import ProfileBehaviour
from swapwatch.detector.simulator.provider import ProviderServer
from swapwatch.detector.simulator.spans import SCOPES, SpanWriter, resource_json, span_json
from swapwatch.detector.simulator.suite import CHAT, build_scenario
from swapwatch.instrumentation.programmatic import configure, uninstrument

SERVICE, ENVIRONMENT, SURFACE, TENANT, MAX_TOKENS = (
    "support-api", "prod", "chat-assistant", "acme", 1024)


@pytest.fixture(scope="module")
def real_export() -> Iterator[TracesData]:
    """Two calls (plain and streaming) through the instrumented openai SDK."""
    scenario = build_scenario("stationary-month", seed=0, days=2)
    exporter = InMemorySpanExporter()
    configure(service_name=SERVICE, set_global=False, export=SimpleSpanProcessor(exporter),
              resource_attributes={"deployment.environment.name": ENVIRONMENT})
    try:
        behaviour = ProfileBehaviour.for_scenario(scenario)
        with ProviderServer(behaviour, speed=math.inf) as server:
            client = openai.OpenAI(base_url=server.openai_base_url, api_key="sim", max_retries=0)
            messages = [{"role": "user", "content": "Summarise the ticket history please."}]
            with swi.surface(SURFACE, tenant=TENANT):
                client.chat.completions.create(model="gpt-4o", messages=messages,
                                               max_tokens=MAX_TOKENS)
                stream = client.chat.completions.create(
                    model="gpt-4o", messages=messages, max_tokens=MAX_TOKENS, stream=True,
                    stream_options={"include_usage": True})
                for _ in stream:
                    pass
    finally:
        uninstrument()
    export = encode_spans(exporter.get_finished_spans())
    yield TracesData(resource_spans=export.resource_spans)


@pytest.fixture(scope="module")
def simulated_calls() -> list[LlmCall]:
    calls: list[LlmCall] = []
    generate(build_scenario("stationary-month", seed=0, days=2, rate_scale=0.2), calls.append)
    chat = [c for c in calls if c.surface == SURFACE and c.request_model == "gpt-4o"
            and not c.is_error and not c.evaluations]
    plain = next(c for c in chat if not c.streaming)
    streamed = next(c for c in chat if c.streaming)
    return [dataclasses.replace(c, tenant=TENANT) for c in (plain, streamed)]


def _shape(span: dict[str, Any]) -> dict[str, str]:
    return {a["key"]: next(iter(a["value"])) for a in span["attributes"]}


def _real_spans(real: TracesData) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    document = MessageToDict(real)
    (resource_spans,) = document["resourceSpans"]
    (scope_spans,) = resource_spans["scopeSpans"]
    return resource_spans["resource"], scope_spans["scope"], scope_spans["spans"]


def test_attribute_keys_and_types_match_the_instrumented_sdk(
        real_export: TracesData, simulated_calls: list[LlmCall]) -> None:
    _, _, real = _real_spans(real_export)
    real_plain, real_stream = sorted(real, key=lambda s: "gen_ai.request.stream" in _shape(s))
    for real_span, call in zip((real_plain, real_stream), simulated_calls, strict=True):
        ours = span_json(call, "otel", max_tokens=MAX_TOKENS)
        assert _shape(ours) == _shape(real_span)
        assert set(ours) == set(real_span)
        assert ours["name"] == real_span["name"] == "chat gpt-4o"
        assert ours["kind"] == Span.SpanKind.Value(real_span["kind"])
        assert ours["flags"] == real_span["flags"]


def test_scope_and_resource_match(real_export: TracesData) -> None:
    resource, scope, _ = _real_spans(real_export)
    assert scope == SCOPES["otel"]
    ours = resource_json(SERVICE, ENVIRONMENT, "otel")
    assert {a["key"] for a in ours["attributes"]} == {a["key"] for a in resource["attributes"]}


def test_both_read_back_into_the_same_llm_call_fields(
        real_export: TracesData, simulated_calls: list[LlmCall]) -> None:
    import io

    out = io.BytesIO()
    with SpanWriter(out, dialect="otel", max_tokens_of=lambda c: MAX_TOKENS) as writer:
        for call in simulated_calls:
            writer.write(call)
    ours = [c for line in out.getvalue().splitlines() for c in calls_from_json_line(line)]
    real = calls_from_protobuf(real_export.SerializeToString())

    def filled(call: LlmCall) -> set[str]:
        return {k for k, v in call.to_dict().items() if v not in (None, {}, [])}

    assert sorted(map(filled, ours), key=len) == sorted(map(filled, real), key=len)
    assert {c.service for c in real} == {c.service for c in ours} == {SERVICE}
    assert {(c.surface, c.tenant, c.environment) for c in real + ours} == {
        (SURFACE, TENANT, ENVIRONMENT)}
    assert {c.response_model for c in real + ours} == {"gpt-4o-2024-08-06"}
    assert CHAT.startswith(SERVICE)
