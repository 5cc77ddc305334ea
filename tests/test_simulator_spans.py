"""Simulated spans read back through swapwatch's own ingest: every dialect, every field."""

from __future__ import annotations

import io
import itertools
import json

import pytest
from swapwatch.detector.calls import LlmCall
from swapwatch.detector.ingest.decode import iter_calls_from_file
from swapwatch.detector.ingest.errors import IngestStats
from swapwatch.detector.simulator.generate import generate
from swapwatch.detector.simulator.spans import DIALECTS, SpanWriter
from swapwatch.detector.simulator.suite import build_scenario

SCENARIO = build_scenario("finetune-repoint", variant="medium", seed=3, days=1.5)
CALLS: list[LlmCall] = []
generate(SCENARIO, CALLS.append)
SAMPLE = CALLS[:1500]

# Fields every dialect carries, and those only some do.
COMMON = ("start_ns", "end_ns", "trace_id", "span_id", "service", "environment", "surface",
          "tenant", "provider", "request_model", "input_tokens", "output_tokens", "is_error",
          "prompt_chars", "evaluations")
ONLY = {
    "otel": ("response_model", "finish_reasons", "system_fingerprint", "time_to_first_chunk_s",
             "server_address", "error_type", "response_id", "service_tier"),
    "otel-legacy": ("response_model", "finish_reasons", "system_fingerprint", "error_type"),
    "openllmetry": ("response_model", "finish_reasons", "system_fingerprint", "streaming"),
    "openinference": ("streaming",),
}


def _write(calls: list[LlmCall], dialect: str) -> bytes:
    out = io.BytesIO()
    with SpanWriter(out, dialect=dialect) as writer:
        for call in calls:
            writer.write(call)
    return out.getvalue()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_ingest_reads_back_what_was_simulated(dialect: str) -> None:
    stats = IngestStats()
    read = list(iter_calls_from_file(io.BytesIO(_write(SAMPLE, dialect)), stats=stats))
    assert stats.malformed_messages == 0
    assert len(read) == len(SAMPLE)
    by_span = {c.span_id: c for c in read}  # a batch groups its spans by resource
    for original in SAMPLE:
        got = by_span[original.span_id]
        for field in (*COMMON, *ONLY[dialect]):
            want = getattr(original, field)
            if field == "time_to_first_chunk_s" and want is not None:
                assert getattr(got, field) == pytest.approx(want)
            elif not (original.is_error and field in ("input_tokens", "output_tokens")):
                assert getattr(got, field) == want, (dialect, field)
        assert got.dialect == dialect


def test_lines_are_collector_batches_in_otlp_json() -> None:
    data = _write(CALLS[:2000], "otel")
    lines = data.decode().splitlines()
    assert 1 < len(lines) < 2000
    spans = 0
    for line in lines:
        document = json.loads(line)
        assert list(document) == ["resourceSpans"]
        for resource_spans in document["resourceSpans"]:
            resource = {a["key"]: a["value"]["stringValue"]
                        for a in resource_spans["resource"]["attributes"]}
            assert resource["service.name"] and resource["deployment.environment.name"]
            for scope_spans in resource_spans["scopeSpans"]:
                for span in scope_spans["spans"]:
                    spans += 1
                    assert len(span["traceId"]) == 32 and int(span["traceId"], 16) >= 0
                    assert len(span["spanId"]) == 16 and int(span["spanId"], 16) >= 0
                    assert isinstance(span["startTimeUnixNano"], str)
                    for attribute in span["attributes"]:
                        if "intValue" in attribute["value"]:
                            assert isinstance(attribute["value"]["intValue"], str)
        assert sum(len(s["spans"]) for r in document["resourceSpans"]
                   for s in r["scopeSpans"]) <= 512
    assert spans == 2000


def test_legacy_dialects_use_the_old_environment_attribute() -> None:
    first = json.loads(_write(CALLS[:1], "otel-legacy").decode().splitlines()[0])
    keys = {a["key"] for a in first["resourceSpans"][0]["resource"]["attributes"]}
    assert "deployment.environment" in keys and "deployment.environment.name" not in keys


def test_spans_are_written_in_end_time_order_and_deterministically() -> None:
    again: list[LlmCall] = []
    generate(SCENARIO, again.append)
    assert [c.span_id for c in again] == [c.span_id for c in CALLS]
    assert all(a.end_ns <= b.end_ns for a, b in itertools.pairwise(CALLS))
    assert _write(again[:500], "otel") == _write(CALLS[:500], "otel")


def test_event_times_start_at_the_scenario_start_not_the_wall_clock() -> None:
    assert min(c.start_ns for c in CALLS) >= int(SCENARIO.start_s * 1e9)
    assert max(c.start_ns for c in CALLS) < int(SCENARIO.end_s * 1e9)
