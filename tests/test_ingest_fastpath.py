"""Ingest's fast paths give exactly the general paths' results.

- protobuf messages are first read with map attributes (``ingest.lite``) and fall back to the
  standard decode when that could differ: same calls, same stats, same errors;
- per span shape, generated row readers (``ingest.rows.compile_fields``) accept only values
  the general resolution would keep unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
from swapwatch.detector.ingest import decode
from swapwatch.detector.ingest.config import IngestConfig
from swapwatch.detector.ingest.decode import (
    IngestStats,
    MalformedInput,
    calls_from_protobuf,
    traces_from_json_line,
)
from swapwatch.detector.ingest.dialects import FIELD_SOURCES, INTERESTING_KEYS
from swapwatch.detector.ingest.extract import CallExtractor
from swapwatch.detector.ingest.lite import MapTracesData
from swapwatch.detector.ingest.rows import _general_row, compile_fields
from swapwatch.detector.perf.traffic import fleet_calls, otlp_messages

FIXTURE = Path(__file__).parent / "fixtures" / "otlp" / "collector_file_exporter.jsonl"
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
CONFIGS = [None, IngestConfig(surface_attributes=["root_span.name", "root_span.team", "team"],
                              tenant_attributes=["org.id"], compute_cost=False)]


def standard(data: bytes, config: IngestConfig | None) -> tuple[Any, dict[str, Any]]:
    """The list-attributes path alone (the oracle), as (calls or error, stats)."""
    stats = IngestStats()
    stats.messages += 1
    try:
        traces = decode.traces_from_protobuf(data)
        out: Any = [c.to_dict() for c in decode._extract(traces, config, stats)]
    except MalformedInput as err:
        stats.malformed_messages += 1
        out = ("MalformedInput", err.reason)
    return out, stats.to_dict()


def fast(data: bytes, config: IngestConfig | None) -> tuple[Any, dict[str, Any]]:
    stats = IngestStats()
    try:
        out: Any = [c.to_dict() for c in calls_from_protobuf(data, config, stats)]
    except MalformedInput as err:
        out = ("MalformedInput", err.reason)
    return out, stats.to_dict()


def same(data: bytes, config: IngestConfig | None = None) -> None:
    expected, got = standard(data, config), fast(data, config)
    assert got == expected
    # and in the same order (stats reasons are counted in attribute order)
    assert [list(v) if isinstance(v, dict) else v for v in got[1].values()] == [
        list(v) if isinstance(v, dict) else v for v in expected[1].values()]


def message(spans: list[tuple[str, bool, list[tuple[str, AnyValue]]]]) -> bytes:
    data = TracesData()
    rs = data.resource_spans.add()
    rs.resource.attributes.add(key="service.name", value=AnyValue(string_value="shop"))
    scope = rs.scope_spans.add()
    for name, root, attributes in spans:
        span = scope.spans.add(name=name, trace_id=b"\x01" * 16,
                               span_id=bytes([len(scope.spans)]) * 8,
                               parent_span_id=b"" if root else b"\x09" * 8,
                               start_time_unix_nano=10**18, end_time_unix_nano=10**18 + 10**9)
        for key, value in attributes:
            span.attributes.add(key=key, value=value)
    return data.SerializeToString()


def text(value: str) -> AnyValue:
    return AnyValue(string_value=value)


MODEL = ("gen_ai.request.model", text("gpt-4o"))


def test_clean_messages_take_the_map_path_with_the_same_result() -> None:
    messages = otlp_messages(fleet_calls(300, seed=3), batch_size=100)
    for data in messages:
        assert decode._calls_if_clean(data, None) is not None
        same(data)


def test_collector_fixture_reads_the_same_both_ways() -> None:
    for line in FIXTURE.read_text().splitlines():
        data = traces_from_json_line(line).SerializeToString()
        MapTracesData.FromString(data)
        for config in CONFIGS:
            same(data, config)


def test_a_duplicated_key_whose_last_value_is_unset_keeps_the_earlier_value() -> None:
    data = message([("chat", False, [MODEL, ("gen_ai.request.model", AnyValue())])])
    assert decode._calls_if_clean(data, None) is None
    [call] = calls_from_protobuf(data)
    assert call.request_model == "gpt-4o"
    same(data)


def test_a_root_span_duplicate_without_text_keeps_the_earlier_text() -> None:
    config = CONFIGS[1]
    data = message([("GET /x", True, [("team", text("web")), ("team", text(""))]),
                    ("chat", False, [MODEL])])
    assert decode._calls_if_clean(data, config) is None
    [call] = calls_from_protobuf(data, config)
    assert call.surface == "GET /x"
    same(data, config)


def test_sanitising_notes_keep_attribute_order() -> None:
    junk = [(key, text("not a number")) for key in
            ("gen_ai.usage.output_tokens", "swapwatch.prompt.chars", "gen_ai.usage.input_tokens",
             "gen_ai.request.stream", "swapwatch.cost.usd")]
    for attributes in (junk, junk[::-1]):
        same(message([("chat", False, [MODEL, *attributes])]))


scalars = st.one_of(
    st.sampled_from(["", "gpt-4o", "openai", "LLM", "chat", "execute_tool", "stop", "12", "-1",
                     "0.5", "true", "x" * 300, '{"model": "m", "stream": true}',
                     "https://api.openai.com/v1"]).map(text),
    st.sampled_from([0, 3, -1, 10**9 + 1]).map(lambda i: AnyValue(int_value=i)),
    st.sampled_from([0.0, 0.5, -1.0, float("nan"), 1e6]).map(lambda f: AnyValue(double_value=f)),
    st.booleans().map(lambda b: AnyValue(bool_value=b)),
    st.just(AnyValue()),
)


def array(values: list[AnyValue]) -> AnyValue:
    out = AnyValue()
    out.array_value.values.extend(values)
    return out


values = st.one_of(scalars, st.lists(scalars, max_size=3).map(array))
keys = st.sampled_from([*sorted(INTERESTING_KEYS), "team", "org.id", "server.port"])
spans = st.tuples(st.sampled_from(["chat", "ChatCompletion", "GET /"]), st.booleans(),
                  st.lists(st.tuples(keys, values), max_size=10).map(lambda a: [MODEL, *a]))


@SETTINGS
@given(st.lists(spans, max_size=4), st.sampled_from(CONFIGS))
def test_any_message_reads_the_same_both_ways(
    spans: list[tuple[str, bool, list[tuple[str, AnyValue]]]], config: IngestConfig | None
) -> None:
    same(message(spans), config)


@SETTINGS
@given(st.binary(max_size=300))
def test_undecodable_bytes_fail_the_same_way(data: bytes) -> None:
    same(data)


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(sorted(FIELD_SOURCES)), values), max_size=8))
def test_generated_row_readers_agree_with_the_general_resolution(
    fields: list[tuple[str, AnyValue]]
) -> None:
    got: dict[str, Any] = {}
    winners: dict[str, str] = {}
    for name, value in fields:
        kind = value.WhichOneof("value")
        if kind is not None:
            winners[name] = key = FIELD_SOURCES[name][0]
            got[key] = getattr(value, kind)
    general_stats, fast_stats = IngestStats(), IngestStats()
    expected = _general_row(got, general_stats)
    assert compile_fields(winners)(got, fast_stats) == expected
    # accepted without the general path only if that would have noted nothing
    assert fast_stats.to_dict() == general_stats.to_dict()


BOUNDARIES = [
    *map(text, ["", "a", "x" * 256, "x" * 257, "stop", "end_turn", "7", " 7", "true"]),
    *(AnyValue(int_value=i) for i in (0, 1, -1, 10**9, 10**9 + 1)),
    *(AnyValue(double_value=f) for f in (0.0, -0.0, -0.1, 0.5, 2.0, 86_400.0, 86_400.5,
                                          100_000.0, 100_000.5, float("nan"), float("inf"))),
    AnyValue(bool_value=True), AnyValue(bool_value=False),
    array([]), array([text("stop")]), array([text("stop"), text("")]),
    array([text("max_tokens"), text("x" * 300)]), array([AnyValue(int_value=1)]),
    array([text("s")] * 33),
]


def test_each_fast_check_accepts_exactly_what_resolution_keeps() -> None:
    for name, keys in FIELD_SOURCES.items():
        fields = compile_fields({name: keys[0]})
        for value in BOUNDARIES:
            got = {keys[0]: getattr(value, value.WhichOneof("value") or "string_value")}
            general_stats, fast_stats = IngestStats(), IngestStats()
            assert fields(got, fast_stats) == _general_row(got, general_stats), (name, value)
            assert fast_stats.to_dict() == general_stats.to_dict(), (name, value)


def test_extractor_reads_map_and_list_traces_alike() -> None:
    data = message([("chat", False, [MODEL, ("gen_ai.usage.input_tokens", AnyValue(int_value=5))])])
    extractor = CallExtractor(IngestConfig())
    listed = extractor.calls(TracesData.FromString(data))
    mapped = extractor.calls(MapTracesData.FromString(data))
    assert listed == mapped and listed[0].input_tokens == 5
