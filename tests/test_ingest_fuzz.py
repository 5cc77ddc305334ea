"""Property tests: no input makes the decoder raise anything but ``MalformedInput``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
from swapwatch.detector.ingest.decode import (
    IngestStats,
    MalformedInput,
    calls_from_json_line,
    calls_from_protobuf,
    traces_from_json_line,
)
from swapwatch.detector.ingest.dialects import INTERESTING_KEYS
from swapwatch.detector.ingest.values import MAX_COUNT, MAX_TEXT

FIXTURE = Path(__file__).parent / "fixtures" / "otlp" / "collector_file_exporter.jsonl"
VALID = [traces_from_json_line(line).SerializeToString()
         for line in FIXTURE.read_text().splitlines()]
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def decode_never_crashes(data: bytes) -> list[Any]:
    stats = IngestStats()
    try:
        return calls_from_protobuf(data, stats=stats)
    except MalformedInput as err:
        assert err.reason and stats.malformed_messages == 1
        return []


@SETTINGS
@given(st.binary(max_size=2048))
def test_random_bytes(data: bytes) -> None:
    decode_never_crashes(data)


@SETTINGS
@given(st.sampled_from(VALID), st.data())
def test_corrupted_real_messages(message: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(message)))
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(message) - 1), st.integers(0, 255)),
                               max_size=4))
    corrupted = bytearray(message[:cut] + message[cut:])
    for at, byte in flips:
        corrupted[at] = byte
    decode_never_crashes(bytes(corrupted[: data.draw(st.integers(0, len(corrupted)))]))


scalar_values = st.one_of(
    st.text(max_size=300).map(lambda s: AnyValue(string_value=s)),
    st.integers(-(2**63), 2**63 - 1).map(lambda i: AnyValue(int_value=i)),
    st.floats(allow_nan=True, allow_infinity=True).map(lambda f: AnyValue(double_value=f)),
    st.booleans().map(lambda b: AnyValue(bool_value=b)),
    st.binary(max_size=20).map(lambda b: AnyValue(bytes_value=b)),
    st.just(AnyValue()),
)


def array_of(values: list[AnyValue]) -> AnyValue:
    out = AnyValue()
    out.array_value.values.extend(values)
    return out


any_values = st.one_of(scalar_values, st.lists(scalar_values, max_size=4).map(array_of))


@SETTINGS
@given(
    st.lists(st.tuples(st.sampled_from(sorted(INTERESTING_KEYS)), any_values), max_size=25),
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**64 - 1),
)
def test_any_attribute_values_give_sane_calls(
    attributes: list[tuple[str, AnyValue]], start: int, end: int
) -> None:
    traces = TracesData()
    span = traces.resource_spans.add().scope_spans.add().spans.add(
        name="chat x", start_time_unix_nano=start, end_time_unix_nano=end)
    span.attributes.add(key="gen_ai.request.model", value=AnyValue(string_value="gpt-4o"))
    for key, value in attributes:
        span.attributes.add(key=key, value=value)
    for call in decode_never_crashes(traces.SerializeToString()):
        assert 0 < call.start_ns <= call.end_ns
        for name in ("input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens",
                     "prompt_chars"):
            value = getattr(call, name)
            assert value is None or (type(value) is int and 0 <= value <= MAX_COUNT)
        for name in ("provider", "request_model", "response_model", "response_id",
                     "system_fingerprint", "service_tier", "error_type", "operation"):
            value = getattr(call, name)
            assert value is None or (isinstance(value, str) and 0 < len(value) <= MAX_TEXT)
        for number in (call.time_to_first_chunk_s, call.cost_usd):
            assert number is None or (math.isfinite(number) and number >= 0)
        assert all(math.isfinite(v) for v in call.evaluations.values())
        json.dumps(call.to_dict())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["resourceSpans", "scopeSpans", "spans", "attributes", "key", "value",
                         "intValue", "stringValue", "traceId", "spanId", "startTimeUnixNano",
                         "endTimeUnixNano", "arrayValue", "values", "kind", "status", "events"]),
        inner, max_size=5),
    max_leaves=30,
)


@SETTINGS
@given(json_values)
def test_arbitrary_json_documents(doc: Any) -> None:
    try:
        calls_from_json_line(json.dumps(doc))
    except MalformedInput as err:
        assert err.reason
