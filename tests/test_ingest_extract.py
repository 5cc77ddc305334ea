"""Decode + extract: every dialect, the Collector's file-exporter format, bad values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fixtures.otlp import make_collector_fixture as fx
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
from swapwatch.detector.calls import LlmCall
from swapwatch.detector.ingest.config import IngestConfig
from swapwatch.detector.ingest.decode import (
    IngestStats,
    MalformedInput,
    calls_from_json_line,
    calls_from_protobuf,
    is_llm_span,
    iter_calls_from_file,
    traces_from_json_line,
)

FIXTURE = Path(__file__).parent / "fixtures" / "otlp" / "collector_file_exporter.jsonl"


def one_span_line(attributes: dict[str, Any], **kwargs: Any) -> str:
    s = fx.span("ab" * 16, "cd" * 8, kwargs.pop("name", "chat gpt-4o"),
                kwargs.pop("start_ms", 0), kwargs.pop("dur_ms", 1500), attributes, **kwargs)
    doc = fx.line({"resource": fx.resource("svc", "prod"),
                   "scopeSpans": [fx.scope("my.scope", "1", [s])]})
    return json.dumps(doc)


def extract_one(attributes: dict[str, Any], stats: IngestStats | None = None,
                config: IngestConfig | None = None, **kwargs: Any) -> LlmCall | None:
    calls = calls_from_json_line(one_span_line(attributes, **kwargs), config, stats)
    assert len(calls) <= 1
    return calls[0] if calls else None


OTEL = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06"}


def test_fixture_is_regenerated_by_its_script() -> None:
    assert FIXTURE.read_text().splitlines() == [
        json.dumps(doc, separators=(",", ":")) for doc in fx.build()
    ]


def test_collector_file_exporter_file_yields_one_call_per_llm_span() -> None:
    stats = IngestStats()
    calls = list(iter_calls_from_file(FIXTURE, stats=stats))
    assert [c.dialect for c in calls] == [
        "otel", "otel-legacy", "openllmetry", "openinference", "openlit", "otel"]
    assert stats.messages == 5 and stats.malformed_messages == 0
    assert stats.spans == 9 and stats.calls == 6  # HTTP, DB and execute_tool spans skipped
    first = calls[0]
    assert first.trace_id == "5b" * 16 and first.span_id == "1" * 16  # hex ids kept as hex
    assert first.start_ns == fx.T0 + 120_000_000 and first.end_ns == fx.T0 + 2_520_000_000
    assert (first.service, first.environment, first.tenant) == ("support-bot", "production", "acme")
    assert first.surface == "/v1/support/answer"  # root span's route, same message
    assert (first.input_tokens, first.output_tokens, first.cached_input_tokens) == (812, 143, 512)
    assert first.finish_reasons == ("stop",)
    assert first.system_fingerprint == "fp_07871e2ad8" and first.service_tier == "default"
    assert first.prompt_chars == 3391 and first.evaluations == {"relevance": 0.91}
    assert first.cost_usd == pytest.approx((812 - 512) * 2.5e-6 + 512 * 1.25e-6 + 143 * 10e-6)
    anthropic = calls[2]
    assert (anthropic.provider, anthropic.surface) == ("anthropic", "ticket_triage")
    assert anthropic.finish_reasons == ("stop",) and anthropic.cached_input_tokens == 1024
    oi = calls[3]
    assert (oi.request_model, oi.response_model, oi.operation) == (
        "gpt-4o", "gpt-4o-2024-08-06", "chat")
    assert oi.surface == "search-api"  # falls back to service.name
    lit = calls[4]
    assert (lit.time_to_first_chunk_s, lit.streaming, lit.cost_usd) == (0.41, True, 0.0013)
    failed = calls[5]
    assert failed.is_error and failed.error_type == "openai.APITimeoutError"
    assert failed.surface == "nightly-digest" and failed.response_model is None
    assert failed.input_tokens is None and failed.cost_usd is None  # never guessed


def test_protobuf_and_json_decode_to_the_same_calls() -> None:
    for line in FIXTURE.read_text().splitlines():
        as_bytes = traces_from_json_line(line).SerializeToString()
        assert calls_from_protobuf(as_bytes) == calls_from_json_line(line)


def test_snake_case_json_and_base64_ids_are_accepted_too() -> None:
    from google.protobuf import json_format

    line = FIXTURE.read_text().splitlines()[0]
    traces = traces_from_json_line(line)
    proto_json = json.dumps(json_format.MessageToDict(traces, preserving_proto_field_name=True))
    assert calls_from_json_line(proto_json) == calls_from_json_line(line)


def test_surface_and_tenant_precedence_is_configurable() -> None:
    cfg = IngestConfig(surface_attributes=["k8s.pod.name", "service.name"],
                       tenant_attributes=["org.id"])
    call = calls_from_json_line(FIXTURE.read_text().splitlines()[0], cfg)[0]
    assert call.surface == "bot-7d9" and call.tenant is None
    span_first = extract_one({**OTEL, "app.surface": "span-value"},
                             config=IngestConfig(surface_attributes=["app.surface"]))
    assert span_first is not None and span_first.surface == "span-value"


def test_root_span_name_is_a_surface_fallback_but_never_the_call_itself() -> None:
    call = extract_one(OTEL, config=IngestConfig(surface_attributes=["root_span.name"]))
    assert call is not None and call.surface is None  # the call's own span is the root


@pytest.mark.parametrize(
    ("attributes", "field", "value"),
    [
        ({"gen_ai.usage.prompt_tokens": 11}, "input_tokens", 11),
        ({"gen_ai.usage.completion_tokens": 7}, "output_tokens", 7),
        ({"anthropic.message.stop_reason": "tool_use"}, "finish_reasons", ("tool_calls",)),
        ({"anthropic.response.service_tier": "priority"}, "service_tier", "priority"),
        ({"gen_ai.openai.api_base": "https://api.openai.com/v1/"}, "server_address",
         "api.openai.com"),
        ({"gen_ai.openai.response.system_fingerprint": "fp_x"}, "system_fingerprint", "fp_x"),
        ({"gen_ai.openai.request.service_tier": "flex"}, "service_tier", "flex"),
        ({"gen_ai.response.time_to_first_chunk": 0.25}, "time_to_first_chunk_s", 0.25),
        ({"gen_ai.usage.reasoning.output_tokens": 64}, "reasoning_tokens", 64),
        ({"gen_ai.usage.reasoning_tokens": 64}, "reasoning_tokens", 64),
        ({"llm.token_count.completion_details.reasoning": 64}, "reasoning_tokens", 64),
        ({"gen_ai.request.stream": True}, "streaming", True),
        ({"llm.is_streaming": "true"}, "streaming", True),
        ({"swapwatch.cost.usd": 0.5, "gen_ai.usage.cost": 0.7}, "cost_usd", 0.5),
        ({"gen_ai.usage.input_tokens": 5, "gen_ai.usage.prompt_tokens": 9}, "input_tokens", 5),
        ({"gen_ai.usage.input_tokens": "12"}, "input_tokens", 12),
        ({"gen_ai.usage.input_tokens": 12.0}, "input_tokens", 12),
        ({"gen_ai.response.finish_reasons": ["stop", "length"]}, "finish_reasons",
         ("stop", "length")),
        ({"server.address": "api.openai.com"}, "server_address", "api.openai.com"),
        ({"gen_ai.system": "AWS"}, "provider", "openai"),  # current name wins over the old one
    ],
)
def test_dialect_fields(attributes: dict[str, Any], field: str, value: Any) -> None:
    call = extract_one({**OTEL, **attributes})
    assert call is not None and getattr(call, field) == value


def test_openinference_reads_requested_model_from_invocation_parameters() -> None:
    call = extract_one({"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-2024-08-06",
                        "llm.provider": "openai",
                        "llm.invocation_parameters": '{"model": "gpt-4o", "stream": true}'},
                       name="ChatCompletion")
    assert call is not None
    assert (call.request_model, call.streaming, call.operation, call.dialect) == (
        "gpt-4o", True, "chat", "openinference")


@pytest.mark.parametrize(
    "attributes",
    [
        {"openinference.span.kind": "CHAIN", "llm.model_name": "gpt-4o"},
        {"gen_ai.operation.name": "execute_tool", "gen_ai.request.model": "gpt-4o"},
        {"http.route": "/x", "gen_ai.agent.name": "helper"},
        {},
    ],
)
def test_non_model_spans_are_skipped(attributes: dict[str, Any]) -> None:
    assert extract_one(attributes) is None


def test_embedding_span_is_a_call_with_its_operation() -> None:
    call = extract_one({"openinference.span.kind": "EMBEDDING",
                        "llm.invocation_parameters": '{"model": "text-embedding-3-small"}'},
                       name="CreateEmbeddings")
    assert call is not None and call.operation == "embeddings"


def test_is_llm_span_predicate() -> None:
    traces = traces_from_json_line(FIXTURE.read_text().splitlines()[0])
    spans = [s for ss in traces.resource_spans[0].scope_spans for s in ss.spans]
    assert [is_llm_span(s) for s in spans] == [True, False, False]


def test_evaluation_scores_from_events_and_attributes() -> None:
    event = {"timeUnixNano": "1", "name": "gen_ai.evaluation.result",
             "attributes": fx.attrs({"gen_ai.evaluation.name": "faithfulness",
                                     "gen_ai.evaluation.score.value": 0.5})}
    junk = {"timeUnixNano": "1", "name": "gen_ai.evaluation.result",
            "attributes": fx.attrs({"gen_ai.evaluation.name": "x",
                                    "gen_ai.evaluation.score.value": "high"})}
    stats = IngestStats()
    call = extract_one({**OTEL, "gen_ai.evaluation.name": "toxicity",
                        "gen_ai.evaluation.score.value": 0}, stats, events=[event, junk])
    assert call is not None and call.evaluations == {"faithfulness": 0.5, "toxicity": 0.0}
    assert stats.sanitised_values["evaluation: missing name or numeric score"] == 1


def test_exception_event_gives_the_error_type_when_no_attribute_does() -> None:
    event = {"timeUnixNano": "1", "name": "exception",
             "attributes": fx.attrs({"exception.type": "openai.RateLimitError"})}
    call = extract_one(OTEL, status={"code": 2}, events=[event])
    assert call is not None and call.is_error and call.error_type == "openai.RateLimitError"


@pytest.mark.parametrize(
    ("attributes", "field", "reason"),
    [
        ({"gen_ai.usage.input_tokens": -5}, "input_tokens", "input_tokens: negative"),
        ({"gen_ai.usage.output_tokens": 10**15}, "output_tokens", "output_tokens: absurdly large"),
        ({"gen_ai.usage.output_tokens": "many"}, "output_tokens", "output_tokens: not an integer"),
        ({"gen_ai.response.time_to_first_chunk": -1.0}, "time_to_first_chunk_s",
         "time_to_first_chunk_s: out of range"),
        ({"gen_ai.response.id": 12345}, "response_id", "response_id: not a string"),
        ({"gen_ai.request.stream": "perhaps"}, "streaming", "streaming: not a boolean"),
        ({"swapwatch.cost.usd": -3.0}, "cost_usd", "cost_usd: out of range"),
    ],
)
def test_absurd_values_become_none_and_are_counted(
    attributes: dict[str, Any], field: str, reason: str
) -> None:
    stats = IngestStats()
    call = extract_one({**OTEL, **attributes}, stats)
    assert call is not None and getattr(call, field) is None
    assert stats.sanitised_values[reason] == 1


def test_a_wrongly_typed_winner_falls_back_to_the_next_dialect() -> None:
    call = extract_one({**OTEL, "gen_ai.usage.input_tokens": "n/a",
                        "gen_ai.usage.prompt_tokens": 40})
    assert call is not None and call.input_tokens == 40


def test_ten_megabyte_model_name_is_truncated() -> None:
    stats = IngestStats()
    call = extract_one({**OTEL, "gen_ai.response.model": "x" * 10_000_000}, stats)
    assert call is not None and call.response_model is not None
    assert len(call.response_model) == 256 and call.response_model.endswith("...")
    assert stats.sanitised_values["response_model: too long"] == 1


@pytest.mark.parametrize(
    ("timing", "reason"),
    [
        ({"start_ms": 5000, "dur_ms": -1000}, "end before start"),
        ({"dur_ms": 2 * 86_400_000}, "longer than a day"),
    ],
)
def test_impossible_times_reject_the_span_not_the_message(timing: dict[str, int],
                                                          reason: str) -> None:
    stats = IngestStats()
    assert extract_one(OTEL, stats, **timing) is None
    assert stats.rejected_spans[reason] == 1


def test_missing_timestamps_reject_the_span() -> None:
    doc = json.loads(one_span_line(OTEL))
    del doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["startTimeUnixNano"]
    stats = IngestStats()
    assert calls_from_json_line(json.dumps(doc), stats=stats) == []
    assert stats.rejected_spans["missing start or end time"] == 1


def test_truncated_protobuf_is_malformed_with_a_reason() -> None:
    data = traces_from_json_line(FIXTURE.read_text().splitlines()[0]).SerializeToString()
    stats = IngestStats()
    with pytest.raises(MalformedInput) as err:
        calls_from_protobuf(data[: len(data) // 2], stats=stats)
    assert "protobuf" in err.value.reason
    assert (stats.messages, stats.malformed_messages) == (1, 1)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"resourceSpans": [', "not JSON"),
        ("[1, 2]", "not an OTLP JSON object"),
        ('{"resourceMetrics": []}', "no resourceSpans"),
        ('{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}',
         "not OTLP traces"),
        ('{"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": [{"key": "a", "value": '
         '{"intValue": "x"}}]}]}]}]}', "not OTLP traces"),
    ],
)
def test_malformed_json_lines(line: str, reason: str) -> None:
    with pytest.raises(MalformedInput) as err:
        calls_from_json_line(line)
    assert err.value.reason.startswith(reason)


def test_file_reader_reports_bad_lines_with_numbers_and_keeps_going(tmp_path: Path) -> None:
    good = FIXTURE.read_text().splitlines()
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([good[0], "{oops", "", good[2], '{"resourceSpans": 3}']) + "\n")
    errors: list[tuple[int, str]] = []
    stats = IngestStats()
    calls = list(iter_calls_from_file(path, on_error=lambda n, r: errors.append((n, r)),
                                      stats=stats))
    assert [c.dialect for c in calls] == ["otel", "openinference"]
    assert [n for n, _ in errors] == [2, 5]
    assert stats.malformed_messages == 2 and stats.messages == 4


def test_empty_message_and_kafka_request_type_decode() -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    traces = traces_from_json_line(FIXTURE.read_text().splitlines()[1])
    request = ExportTraceServiceRequest(resource_spans=traces.resource_spans)
    assert len(calls_from_protobuf(request.SerializeToString())) == 2
    assert calls_from_protobuf(TracesData().SerializeToString()) == []
