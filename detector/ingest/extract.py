"""OTLP spans → :class:`~swapwatch.detector.calls.LlmCall`, one per model call, any dialect.

The hot path, per span: the attribute walk (:mod:`~swapwatch.detector.ingest.walk`: one dict
lookup per attribute, values read only for wanted keys; over a list of ``KeyValue`` or, for
protobuf input, a map, see :mod:`~swapwatch.detector.ingest.lite`); the span's *shape* (its
tuple of kept keys) picks a cached :class:`~swapwatch.detector.ingest.plans.Plan`, which drops
spans that cannot be model calls and reads the fields (precedence from
:mod:`~swapwatch.detector.ingest.dialects`) with type checks only in the common case
(:mod:`~swapwatch.detector.ingest.rows`); what the resource says about the caller is compiled
once per resource (:mod:`~swapwatch.detector.ingest.caller`); the call is built positionally.
Rarer readers (events, URLs, JSON parameters) live in :mod:`~swapwatch.detector.ingest.details`.

>>> from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
>>> from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
>>> data = TracesData()
>>> rs = data.resource_spans.add()
>>> _ = rs.resource.attributes.add(key="service.name", value=AnyValue(string_value="shop"))
>>> span = rs.scope_spans.add().spans.add(name="chat gpt-4o", start_time_unix_nano=10**18,
...                                        end_time_unix_nano=10**18 + 2 * 10**9)
>>> for k, v in [("gen_ai.provider.name", AnyValue(string_value="openai")),
...              ("gen_ai.request.model", AnyValue(string_value="gpt-4o")),
...              ("gen_ai.usage.output_tokens", AnyValue(int_value=57))]:
...     _ = span.attributes.add(key=k, value=v)
>>> [call] = CallExtractor(IngestConfig()).calls(data)
>>> call.service, call.surface, call.request_model, call.output_tokens, call.dialect
('shop', 'shop', 'gpt-4o', 57, 'otel')
"""

from __future__ import annotations

from typing import Any

from swapwatch.detector.calls import LlmCall
from swapwatch.detector.ingest import dialects as d
from swapwatch.detector.ingest.caller import (
    Caller,
    Precedence,
    RootSpans,
    environment,
    read_resource,
    resolve,
)
from swapwatch.detector.ingest.config import IngestConfig
from swapwatch.detector.ingest.details import (
    add_evaluation,
    from_invocation_parameters,
    operation,
    read_events,
    scope_dialect,
    url_host,
)
from swapwatch.detector.ingest.errors import IngestStats
from swapwatch.detector.ingest.lite import is_map_traces
from swapwatch.detector.ingest.plans import MARKED, PLANS, Plan, is_model_call, plan_for
from swapwatch.detector.ingest.pricing import call_cost_usd
from swapwatch.detector.ingest.rows import SLOT
from swapwatch.detector.ingest.values import unwrap
from swapwatch.detector.ingest.walk import key_table, walk, walk_map

__all__ = ["CallExtractor", "is_llm_span"]

_STATUS_ERROR = 2
_MAX_CALLERS = 1024
_MAX_SPAN_NS = 86_400 * 10**9
_OPERATION, _SERVER = SLOT["operation"], SLOT["server_address"]
_TRACE_ID, _SPAN_ID, _SERVICE = SLOT["trace_id"], SLOT["span_id"], SLOT["service"]
_ENVIRONMENT, _SURFACE, _TENANT = SLOT["environment"], SLOT["surface"], SLOT["tenant"]
_START, _END, _IS_ERROR, _ERROR_TYPE = (
    SLOT["start_ns"], SLOT["end_ns"], SLOT["is_error"], SLOT["error_type"]
)
_EVALUATIONS, _DIALECT = SLOT["evaluations"], SLOT["dialect"]
_PROVIDER, _RESPONSE_MODEL, _COST = SLOT["provider"], SLOT["response_model"], SLOT["cost_usd"]
_INPUT, _OUTPUT, _CACHED = SLOT["input_tokens"], SLOT["output_tokens"], SLOT["cached_input_tokens"]


def is_llm_span(span: Any) -> bool:
    """Whether an OTLP ``Span`` message records a call to a model (any dialect).

    For a collector that forwards only LLM spans; walks the span's attributes once.
    """
    got = {kv.key: unwrap(kv.value) for kv in span.attributes if kv.key in d.INTERESTING_KEYS}
    return bool(got) and is_model_call(got)


class CallExtractor:
    """Turns decoded OTLP ``TracesData`` (or ``MapTracesData``) into :class:`LlmCall` records
    for one config.

    Build once per configuration and reuse: construction compiles the key tables, and the
    callers of the resources seen are kept.
    """

    def __init__(self, config: IngestConfig) -> None:
        self.config = config
        self._surface = Precedence(config.surface_attributes)
        self._tenant = Precedence(config.tenant_attributes)
        span_keys = self._surface.span_keys() | self._tenant.span_keys()
        self._table = key_table(d.INTERESTING_KEYS | span_keys)
        self._resource_keys = frozenset(
            {d.RESOURCE_SERVICE, *d.RESOURCE_ENVIRONMENT} | span_keys
        )
        self._root_keys = frozenset(self._surface.root_keys() | self._tenant.root_keys())
        self._callers: dict[tuple[tuple[str, str], ...], Caller] = {}
        self._compute_cost = config.compute_cost

    def calls(self, traces: Any, stats: IngestStats | None = None) -> list[LlmCall]:
        """Every model call in a ``TracesData`` / ``ExportTraceServiceRequest``; never raises
        for bad values (they are counted in ``stats``)."""
        table = self._table
        out: list[LlmCall] = []
        spans_seen = 0
        map_attributes = is_map_traces(traces)
        read = walk_map if map_attributes else walk
        roots = RootSpans(traces, self._root_keys, map_attributes)

        for resource_spans in traces.resource_spans:
            caller: Caller | None = None
            for scope_spans in resource_spans.scope_spans:
                dialect: str | None = ""
                spans = scope_spans.spans
                spans_seen += len(spans)
                for span in spans:
                    got = read(span.attributes, table)
                    if not got:
                        continue
                    shape = tuple(got)
                    plan = PLANS.get(shape) or plan_for(shape)
                    if plan.gate != MARKED and not plan.is_model_call(got):
                        continue
                    if caller is None:
                        caller = self._caller(resource_spans.resource)
                    if dialect == "":
                        dialect = scope_dialect(scope_spans.scope.name)
                    row = self._row(span, got, plan, caller, roots, stats)
                    if row is None:
                        continue
                    row[_DIALECT] = dialect or plan.dialect
                    call = LlmCall(*row)
                    if span.events:
                        read_events(span.events, call, stats)
                    if plan.evaluation:
                        add_evaluation(
                            call, got[d.EVALUATION_NAME], got[d.EVALUATION_SCORE], stats
                        )
                    out.append(call)
        if stats is not None:
            stats.spans += spans_seen
            stats.calls += len(out)
        return out

    def _caller(self, resource: Any) -> Caller:
        """The compiled caller of a ``Resource`` (cached by its wanted attributes: a service's
        resource is the same in every message)."""
        wanted = read_resource(resource, self._resource_keys)
        key = tuple(wanted.items())
        found = self._callers.get(key)
        if found is None:
            if len(self._callers) >= _MAX_CALLERS:
                self._callers.clear()
            found = self._callers[key] = Caller(wanted, self._surface, self._tenant)
        return found

    def _row(
        self,
        span: Any,
        got: dict[str, Any],
        plan: Plan,
        caller: Caller,
        roots: RootSpans,
        stats: IngestStats | None,
    ) -> list[Any] | None:
        """The call's positional fields but its dialect, or ``None`` if the span is rejected."""
        start, end = span.start_time_unix_nano, span.end_time_unix_nano
        if not start or not end or end < start or end - start > _MAX_SPAN_NS:
            if stats is not None:
                stats.reject(
                    "missing start or end time" if not start or not end
                    else "end before start" if end < start
                    else "longer than a day"
                )
            return None
        row = plan.fields(got, stats)
        if plan.invocation:
            from_invocation_parameters(got[d.INVOCATION_PARAMETERS], row, stats)
        if row[_SERVER] is None:
            row[_SERVER] = url_host(got)
        op = row[_OPERATION]
        row[_OPERATION] = (
            d.OPERATION_ALIASES.get(op, op) if op else operation(None, span.name, got)
        )
        trace_id, span_id = span.trace_id, span.span_id
        row[_START] = start
        row[_END] = end
        row[_TRACE_ID] = trace_id.hex() or None
        row[_SPAN_ID] = span_id.hex() or None
        row[_SERVICE] = caller.service
        env = caller.environment
        row[_ENVIRONMENT] = env if env is not None else environment(got, caller.resource, stats)
        surface, tenant = caller.steps_for(plan.keys)
        if surface:
            row[_SURFACE] = resolve(surface, got, roots, trace_id, span_id)
        if tenant:
            row[_TENANT] = resolve(tenant, got, roots, trace_id, span_id)
        row[_EVALUATIONS] = {}
        row[_IS_ERROR] = (
            span.HasField("status") and span.status.code == _STATUS_ERROR
        ) or row[_ERROR_TYPE] is not None
        if row[_COST] is None and self._compute_cost:
            row[_COST] = call_cost_usd(
                row[_PROVIDER], row[_RESPONSE_MODEL], row[_INPUT], row[_OUTPUT], row[_CACHED],
                at_ns=start,
            )
        return row
