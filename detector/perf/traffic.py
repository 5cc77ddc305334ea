"""Benchmark input: simulated fleet calls as the OTLP protobuf messages a Collector writes.

The simulator's calls (real latency and length profiles, real arrival patterns) are written
by :class:`~swapwatch.detector.simulator.spans.SpanWriter` in the current GenAI semconv
(``otel`` dialect, with swapwatch's surface/tenant/prompt-size attributes), batched as an SDK
exports them, and each batch is encoded as ``TracesData`` protobuf: one Kafka record value
each, as the Collector's kafka exporter writes with ``otlp_proto``. The floor, the replay and
the Kafka run all read these same bytes.

>>> calls = fleet_calls(120, seed=1)
>>> len(calls), len({c.surface for c in calls}) > 1
(120, True)
>>> messages = otlp_messages(calls, batch_size=50)
>>> from swapwatch.detector.ingest.decode import calls_from_protobuf
>>> sum(len(calls_from_protobuf(m)) for m in messages)
120
>>> spread = with_tenants(calls, 4)
>>> len({c.tenant for c in spread})
4
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
from swapwatch.detector.calls import LlmCall
from swapwatch.detector.simulator.spans import SpanWriter

SCENARIO = "stationary-month"  # unchanged traffic: the steady state a detector mostly sees
_DAYS = 2.0
_CALLS_PER_DAY = 10_000  # roughly what the scenario's fleet makes at rate_scale 1


_last_generated: dict[tuple[str, int, float], list[LlmCall]] = {}


def fleet_calls(spans: int, seed: int = 1, scenario: str = SCENARIO) -> list[LlmCall]:
    """The first ``spans`` calls (in span-end order) of a simulated fleet scenario."""
    from swapwatch.detector.simulator.generate import generate
    from swapwatch.detector.simulator.suite import build_scenario

    scale = max(1.0, 1.2 * spans / (_CALLS_PER_DAY * _DAYS))
    made = (scenario, seed, scale)
    calls = _last_generated.get(made)
    if calls is None:  # one generation kept: small runs (tests, examples) share it
        calls = []
        generate(build_scenario(scenario, seed=seed, days=_DAYS, rate_scale=scale),
                 calls.append)
        _last_generated.clear()
        _last_generated[made] = calls
    if len(calls) < spans:
        raise ValueError(f"the scenario made {len(calls)} calls, fewer than {spans}")
    return calls[:spans]


def tenant_of(call: LlmCall, tenants: int, skewed: bool = False) -> str:
    """A tenant out of ``tenants`` (from the random span id): evenly spread, or ``skewed`` as
    real fleets are, the k-th busiest tenant getting a share ∝ 1/k (Zipf, s = 1)."""
    span_id = call.span_id or "0"
    if not skewed:
        return f"tenant-{int(span_id[:8], 16) % tenants}"
    # log-uniform rank: P(rank >= k) = 1 - log k / log tenants, a density ∝ 1/k
    u = int(span_id[8:16] or "0", 16) / 2**32
    return f"tenant-{min(int(tenants ** u) - 1, tenants - 1)}"


def with_tenants(calls: list[LlmCall], tenants: int, skewed: bool = False) -> list[LlmCall]:
    """``calls`` spread over ``tenants`` tenants: each simulated key becomes that many keys."""
    if tenants <= 1:
        return calls
    return [replace(call, tenant=tenant_of(call, tenants, skewed)) for call in calls]


def base_keys(calls: list[LlmCall]) -> list[tuple[Any, ...]]:
    """The distinct series of ``calls`` without the tenant, in order of first appearance."""
    seen: dict[tuple[Any, ...], None] = {}
    for call in calls:
        seen.setdefault(_series(call), None)
    return list(seen)


def _series(call: LlmCall) -> tuple[Any, ...]:
    return (call.service, call.surface, call.provider, call.request_model, call.environment)


def warmup_calls(templates: list[LlmCall], tenants: int, per_key: int, before_ns: int,
                 spacing_s: float = 60.0, stagger: int = 16) -> Iterator[LlmCall]:
    """Calls that warm every (series, tenant) key of ``templates`` before ``before_ns``.

    Key ``k`` gets ``per_key + k % stagger`` calls, copied from its series' calls in
    ``templates`` (their durations, tokens and models) one ``spacing_s`` apart in event time,
    interleaved over keys so that event time only grows. The stagger leaves the keys' staged
    blocks at different fill levels, as in a stream that has run for a while: a following
    call then triggers a block of learning as often as it does in steady state.
    """
    by_series: dict[tuple[Any, ...], list[LlmCall]] = {}
    for call in templates:
        by_series.setdefault(_series(call), []).append(call)
    series = list(by_series.values())
    keys = len(series) * tenants
    rounds = per_key + stagger - 1
    spacing_ns = int(spacing_s * 1e9)
    start_ns = before_ns - (rounds + 1) * spacing_ns
    step_ns = max(1, spacing_ns // max(keys, 1))
    for r in range(rounds):
        round_ns = start_ns + r * spacing_ns
        k = 0
        for calls in series:
            template = calls[r % len(calls)]
            duration = template.end_ns - template.start_ns
            for t in range(tenants):
                if r < per_key + k % stagger:
                    end_ns = round_ns + k * step_ns
                    yield replace(template, tenant=f"tenant-{t}", start_ns=end_ns - duration,
                                  end_ns=end_ns, trace_id=f"{r:016x}{k:016x}",
                                  span_id=f"{k:016x}")
                k += 1


def tenants_for(keys: int, series: int) -> int:
    """Tenants per series so that ``series * tenants`` is at most ``keys`` (at least 1)."""
    return max(1, math.floor(keys / max(series, 1)))


# --- OTLP JSON (file-exporter lines) → protobuf --------------------------------------------


def _value(target: AnyValue, value: dict[str, Any]) -> None:
    if "stringValue" in value:
        target.string_value = value["stringValue"]
    elif "intValue" in value:
        target.int_value = int(value["intValue"])
    elif "doubleValue" in value:
        target.double_value = float(value["doubleValue"])
    elif "boolValue" in value:
        target.bool_value = bool(value["boolValue"])
    elif "arrayValue" in value:
        for item in value["arrayValue"].get("values", []):
            _value(target.array_value.values.add(), item)


def _attributes(target: Any, attributes: list[dict[str, Any]]) -> None:
    for kv in attributes:
        _value(target.add(key=kv["key"]).value, kv["value"])


def traces_from_otlp_json(document: dict[str, Any]) -> TracesData:
    """One OTLP JSON document (the simulator's subset of it) as ``TracesData``."""
    data = TracesData()
    for rs_json in document.get("resourceSpans", []):
        rs = data.resource_spans.add()
        _attributes(rs.resource.attributes, rs_json.get("resource", {}).get("attributes", []))
        for ss_json in rs_json.get("scopeSpans", []):
            ss = rs.scope_spans.add()
            ss.scope.name = ss_json.get("scope", {}).get("name", "")
            ss.scope.version = ss_json.get("scope", {}).get("version", "")
            for sp in ss_json.get("spans", []):
                span = ss.spans.add(
                    trace_id=bytes.fromhex(sp["traceId"]), span_id=bytes.fromhex(sp["spanId"]),
                    parent_span_id=bytes.fromhex(sp.get("parentSpanId", "")),
                    name=sp.get("name", ""), kind=sp.get("kind", 0), flags=sp.get("flags", 0),
                    start_time_unix_nano=int(sp["startTimeUnixNano"]),
                    end_time_unix_nano=int(sp["endTimeUnixNano"]))
                _attributes(span.attributes, sp.get("attributes", []))
                status = sp.get("status") or {}
                if status:
                    span.status.code = int(status.get("code", 0))
                    span.status.message = status.get("message", "")
                for ev in sp.get("events", []):
                    event = span.events.add(name=ev["name"],
                                            time_unix_nano=int(ev.get("timeUnixNano", 0)))
                    _attributes(event.attributes, ev.get("attributes", []))
    return data


def otlp_messages(calls: list[LlmCall], batch_size: int = 200,
                  batch_window_s: float = 1e9) -> list[bytes]:
    """``calls`` (in span-end order) as ``otlp_proto`` record values of up to ``batch_size``
    spans whose ends fall within ``batch_window_s`` (by default size alone cuts the batches:
    a Collector in front of a large fleet fills its batches long before a timeout, while
    the simulated fleet is a small one)."""
    out = io.BytesIO()
    with SpanWriter(out, dialect="otel", batch_size=batch_size,
                    batch_window_s=batch_window_s) as writer:
        for call in calls:
            writer.write(call)
    return [traces_from_otlp_json(json.loads(line)).SerializeToString()
            for line in out.getvalue().splitlines() if line.strip()]


def spans_in(message: bytes) -> int:
    """Spans in one message (decodes it; for counting, not for timing)."""
    data = TracesData.FromString(message)
    return sum(len(ss.spans) for rs in data.resource_spans for ss in rs.scope_spans)
