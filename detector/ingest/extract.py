"""OTLP spans → :class:`~swapwatch.detector.calls.LlmCall`, one per model call, any dialect.

The hot path walks each span's attributes once, keeping only the values whose key the
extractor reads (a dict lookup per attribute, no per-attribute objects otherwise); spans
without a model marker are dropped right after that walk. Field values are then resolved with
the precedence table in :mod:`~swapwatch.detector.ingest.dialects`.

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

import json
import math
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from swapwatch.detector.calls import LlmCall
from swapwatch.detector.ingest import dialects as d
from swapwatch.detector.ingest.config import ROOT_SPAN_PREFIX, IngestConfig
from swapwatch.detector.ingest.errors import IngestStats
from swapwatch.detector.ingest.identity import canonical_provider
from swapwatch.detector.ingest.pricing import call_cost_usd
from swapwatch.detector.ingest.values import (
    MAX_COST_USD,
    MAX_COUNT,
    MAX_LIST,
    MAX_TEXT,
    as_bool,
    as_float,
    as_int,
    as_text,
    as_text_list,
    plain,
    unwrap,
)

__all__ = ["CallExtractor", "is_llm_span"]

_STATUS_ERROR = 2
_MAX_EVENTS = 256  # events read per span
_MAX_INVOCATION_JSON = 65_536
_MAX_SPAN_NS = 86_400 * 10**9
_KNOWN_OPERATIONS = frozenset(
    {"chat", "text_completion", "embeddings", "generate_content", "rerank", "responses"}
)

_Convert = Callable[[Any, str, IngestStats | None], Any]


def _cost(value: Any, field: str, stats: IngestStats | None) -> float | None:
    return as_float(value, field, stats, upper=MAX_COST_USD)


# LlmCall field -> converter for its values.
_CONVERTERS: dict[str, _Convert] = {
    "provider": as_text,
    "server_address": as_text,
    "operation": as_text,
    "request_model": as_text,
    "response_model": as_text,
    "response_id": as_text,
    "input_tokens": as_int,
    "output_tokens": as_int,
    "cached_input_tokens": as_int,
    "reasoning_tokens": as_int,
    "finish_reasons": as_text_list,
    "system_fingerprint": as_text,
    "service_tier": as_text,
    "time_to_first_chunk_s": as_float,
    "streaming": as_bool,
    "prompt_chars": as_int,
    "cost_usd": _cost,
    "error_type": as_text,
}
assert _CONVERTERS.keys() == d.FIELD_SOURCES.keys()
# attribute key -> (LlmCall field, precedence rank: lower wins)
_FIELD_OF_KEY: dict[str, tuple[str, int]] = {
    key: (name, rank) for name, keys in d.FIELD_SOURCES.items() for rank, key in enumerate(keys)
}


_TEXT, _COUNT, _OTHER = 0, 1, 2
_KIND: dict[_Convert, int] = {as_text: _TEXT, as_int: _COUNT}
# Resolution plans by the tuple of keys a span carried: spans from one instrumentor carry the
# same keys in the same order, so precedence is decided once per shape, not once per span.
_Plan = tuple[tuple[str, str, int, int], ...]
_PLANS: dict[tuple[str, ...], _Plan] = {}
_MAX_PLANS = 1024


def _plan(shape: tuple[str, ...]) -> _Plan:
    best: dict[str, tuple[int, str]] = {}
    for key in shape:
        spec = _FIELD_OF_KEY.get(key)
        if spec is not None:
            name, rank = spec
            current = best.get(name)
            if current is None or rank < current[0]:
                best[name] = (rank, key)
    plan = tuple(
        (name, key, rank, _KIND.get(_CONVERTERS[name], _OTHER))
        for name, (rank, key) in best.items()
    )
    if len(_PLANS) >= _MAX_PLANS:
        _PLANS.clear()
    _PLANS[shape] = plan
    return plan


def _resolve_fields(got: dict[str, Any], stats: IngestStats | None) -> dict[str, Any]:
    """Each field's value from the highest-precedence key present that converts cleanly."""
    shape = tuple(got)
    plan = _PLANS.get(shape) or _plan(shape)
    fields: dict[str, Any] = {}
    for name, key, rank, kind in plan:
        value = got[key]
        if kind == _TEXT and type(value) is str and 0 < len(value) <= MAX_TEXT:
            fields[name] = value
            continue
        if kind == _COUNT and type(value) is int and 0 <= value <= MAX_COUNT:
            fields[name] = value
            continue
        convert = _CONVERTERS[name]
        value = convert(value, name, stats)
        if value is None:  # rare: the winning key held junk; try the others in order
            for other in d.FIELD_SOURCES[name][rank + 1:]:
                if other in got:
                    value = convert(got[other], name, stats)
                    if value is not None:
                        break
        if value is not None:
            fields[name] = value
    return fields


def _openinference_kind(got: dict[str, Any]) -> str | None:
    value = got.get(d.OPENINFERENCE_KIND)
    return None if value is None else str(plain(value) or "").upper()


def _is_model_call(got: dict[str, Any]) -> bool:
    """Decide from the attributes kept by the walk; cheap (a few dict lookups)."""
    has_marker = not d.MODEL_MARKERS.isdisjoint(got)
    if d.OPENINFERENCE_KIND in got:
        kind = _openinference_kind(got)
        if kind not in d.OPENINFERENCE_MODEL_KINDS:
            return False
        has_marker = True
    if not has_marker:
        return False
    operation = got.get("gen_ai.operation.name")
    return operation is None or operation not in d.NON_MODEL_OPERATIONS


def is_llm_span(span: Any) -> bool:
    """Whether an OTLP ``Span`` message records a call to a model (any dialect).

    For a collector that forwards only LLM spans; walks the span's attributes once.
    """
    got = {kv.key: unwrap(kv.value) for kv in span.attributes if kv.key in d.INTERESTING_KEYS}
    return bool(got) and _is_model_call(got)


class _RootSpans:
    """Root spans of one message by trace id, indexed on first use (surface fallbacks)."""

    __slots__ = ("_by_trace", "_keys", "_read", "_traces")

    def __init__(self, traces: Any, keys: frozenset[str]) -> None:
        self._traces = traces
        self._keys = keys
        self._by_trace: dict[bytes, Any] | None = None
        self._read: dict[bytes, tuple[str, dict[str, str]]] = {}

    def get(self, trace_id: bytes, span_id: bytes) -> tuple[str, dict[str, str]] | None:
        """(name, wanted attributes) of the trace's root span, unless it is ``span_id``."""
        if self._by_trace is None:
            self._by_trace = {
                span.trace_id: span
                for rs in self._traces.resource_spans
                for ss in rs.scope_spans
                for span in ss.spans
                if not span.parent_span_id
            }
        root = self._by_trace.get(trace_id)
        if root is None or root.span_id == span_id:
            return None
        found = self._read.get(trace_id)
        if found is None:
            attrs = {}
            for kv in root.attributes:
                if kv.key in self._keys:
                    text = as_text(unwrap(kv.value), "root_span", None)
                    if text:
                        attrs[kv.key] = text
            found = self._read[trace_id] = (root.name[:256], attrs)
        return found


class _Precedence:
    """One compiled surface/tenant precedence list."""

    __slots__ = ("entries",)

    def __init__(self, names: list[str]) -> None:
        self.entries: tuple[tuple[bool, str], ...] = tuple(
            (True, n[len(ROOT_SPAN_PREFIX):]) if n.startswith(ROOT_SPAN_PREFIX) else (False, n)
            for n in names
        )

    def span_keys(self) -> set[str]:
        return {key for is_root, key in self.entries if not is_root}

    def resolve(
        self,
        got: dict[str, Any],
        resource: dict[str, str],
        roots: _RootSpans,
        trace_id: bytes,
        span_id: bytes,
        field: str,
    ) -> str | None:
        for is_root, key in self.entries:
            if is_root:
                found = roots.get(trace_id, span_id)
                if found is not None:
                    name, attrs = found
                    value = name if key == "name" else attrs.get(key)
                    if value:
                        return value[:256]
                continue
            raw = got.get(key)
            if raw is not None:
                text = as_text(raw, field, None)
                if text:
                    return text
            if key in resource:
                return resource[key]
        return None


class CallExtractor:
    """Turns decoded OTLP ``TracesData`` into :class:`LlmCall` records for one config.

    Build once per configuration and reuse: construction compiles the key tables.
    """

    def __init__(self, config: IngestConfig) -> None:
        self.config = config
        self._surface = _Precedence(config.surface_attributes)
        self._tenant = _Precedence(config.tenant_attributes)
        self._span_keys = frozenset(
            d.INTERESTING_KEYS | self._surface.span_keys() | self._tenant.span_keys()
        )
        self._resource_keys = frozenset(
            {d.RESOURCE_SERVICE, *d.RESOURCE_ENVIRONMENT}
            | self._surface.span_keys()
            | self._tenant.span_keys()
        )
        self._root_keys = frozenset(
            key for is_root, key in self._surface.entries + self._tenant.entries if is_root
        )

    def calls(self, traces: Any, stats: IngestStats | None = None) -> list[LlmCall]:
        """Every model call in a ``TracesData`` / ``ExportTraceServiceRequest``; never raises
        for bad values (they are counted in ``stats``)."""
        keys = self._span_keys
        out: list[LlmCall] = []
        spans_seen = 0
        roots = _RootSpans(traces, self._root_keys)

        for resource_spans in traces.resource_spans:
            resource: dict[str, str] | None = None
            for scope_spans in resource_spans.scope_spans:
                scope_dialect: str | None = ""
                spans = scope_spans.spans
                spans_seen += len(spans)
                for span in spans:
                    got: dict[str, Any] = {}
                    for kv in span.attributes:
                        key = kv.key
                        if key in keys:
                            value = kv.value
                            kind = value.WhichOneof("value")
                            if kind is not None:
                                got[key] = getattr(value, kind)
                    if not got or not _is_model_call(got):
                        continue
                    if resource is None:
                        resource = self._resource(resource_spans.resource)
                    if scope_dialect == "":
                        scope_dialect = _scope_dialect(scope_spans.scope.name)
                    call = self._call(span, got, resource, scope_dialect, roots, stats)
                    if call is not None:
                        out.append(call)
        if stats is not None:
            stats.spans += spans_seen
            stats.calls += len(out)
        return out

    def _resource(self, resource: Any) -> dict[str, str]:
        wanted = self._resource_keys
        found: dict[str, str] = {}
        for kv in resource.attributes:
            if kv.key in wanted:
                text = as_text(unwrap(kv.value), "resource", None)
                if text:
                    found[kv.key] = text
        return found

    def _call(
        self,
        span: Any,
        got: dict[str, Any],
        resource: dict[str, str],
        scope_dialect: str | None,
        roots: _RootSpans,
        stats: IngestStats | None,
    ) -> LlmCall | None:
        start, end = span.start_time_unix_nano, span.end_time_unix_nano
        problem = (
            "missing start or end time" if not start or not end
            else "end before start" if end < start
            else "longer than a day" if end - start > _MAX_SPAN_NS
            else None
        )
        if problem is not None:
            if stats is not None:
                stats.reject(problem)
            return None
        fields = _resolve_fields(got, stats)
        if d.INVOCATION_PARAMETERS in got:
            _from_invocation_parameters(got[d.INVOCATION_PARAMETERS], fields, stats)
        if "provider" in fields:
            fields["provider"] = canonical_provider(fields["provider"])
        if "finish_reasons" in fields:
            aliases = d.FINISH_REASON_ALIASES
            fields["finish_reasons"] = tuple(aliases.get(r, r) for r in fields["finish_reasons"])
        if "server_address" not in fields:
            host = _url_host(got)
            if host:
                fields["server_address"] = host
        fields["operation"] = _operation(fields.get("operation"), span.name, got)
        trace_id, span_id = span.trace_id, span.span_id
        call = LlmCall(
            start_ns=start,
            end_ns=end,
            trace_id=trace_id.hex() or None,
            span_id=span_id.hex() or None,
            service=resource.get(d.RESOURCE_SERVICE),
            environment=_environment(got, resource, stats),
            surface=self._surface.resolve(got, resource, roots, trace_id, span_id, "surface"),
            tenant=self._tenant.resolve(got, resource, roots, trace_id, span_id, "tenant"),
            dialect=scope_dialect or _dialect(got),
            **fields,
        )
        call.is_error = span.status.code == _STATUS_ERROR or call.error_type is not None
        if span.events:
            _read_events(span.events, call, stats)
        if d.EVALUATION_NAME in got and d.EVALUATION_SCORE in got:
            _add_evaluation(call, got[d.EVALUATION_NAME], got[d.EVALUATION_SCORE], stats)
        if call.cost_usd is None and self.config.compute_cost:
            call.cost_usd = call_cost_usd(
                call.provider,
                call.response_model,
                call.input_tokens,
                call.output_tokens,
                call.cached_input_tokens,
                at_ns=start,
            )
        return call


def _url_host(got: dict[str, Any]) -> str | None:
    for key in d.API_BASE_URLS:
        url = got.get(key)
        if isinstance(url, str) and len(url) <= 2048:
            try:
                host = urlsplit(url).hostname
            except ValueError:
                continue
            if host:
                return host[:MAX_TEXT]
    return None


def _environment(
    got: dict[str, Any], resource: dict[str, str], stats: IngestStats | None
) -> str | None:
    for key in d.RESOURCE_ENVIRONMENT:
        if key in resource:
            return resource[key]
        if key in got:
            return as_text(got[key], "environment", stats)
    return None


def _operation(value: str | None, span_name: str, got: dict[str, Any]) -> str | None:
    if value:
        return d.OPERATION_ALIASES.get(value, value)
    by_name = d.OPERATION_BY_SPAN_NAME.get(span_name)
    if by_name:
        return by_name
    first = span_name.split(" ", 1)[0]
    if first in _KNOWN_OPERATIONS:
        return first
    if _openinference_kind(got) == "EMBEDDING":
        return "embeddings"
    return None


def _scope_dialect(scope_name: str) -> str | None:
    for prefix, dialect in d.DIALECT_BY_SCOPE:
        if scope_name.startswith(prefix):
            return dialect
    return None


def _dialect(got: dict[str, Any]) -> str | None:
    for key, dialect in d.DIALECT_MARKERS:
        if key in got:
            return dialect
    return None


def _from_invocation_parameters(
    raw: Any, fields: dict[str, Any], stats: IngestStats | None
) -> None:
    """OpenInference keeps the requested model inside a JSON string."""
    text = plain(raw)
    if not isinstance(text, str) or len(text) > _MAX_INVOCATION_JSON:
        if stats is not None:
            stats.sanitise("invocation_parameters: not a bounded string")
        return
    try:
        params = json.loads(text)
    except ValueError:
        if stats is not None:
            stats.sanitise("invocation_parameters: not JSON")
        return
    if not isinstance(params, dict):
        return
    model = params.get("model")
    if "request_model" not in fields and isinstance(model, str) and model:
        fields["request_model"] = model[:256]
    stream = params.get("stream")
    if "streaming" not in fields and isinstance(stream, bool):
        fields["streaming"] = stream


def _read_events(events: Any, call: LlmCall, stats: IngestStats | None) -> None:
    for event in events[:_MAX_EVENTS]:
        name = event.name
        if name == d.EVALUATION_EVENT:
            label = score = None
            for kv in event.attributes:
                if kv.key == d.EVALUATION_NAME:
                    label = unwrap(kv.value)
                elif kv.key == d.EVALUATION_SCORE:
                    score = unwrap(kv.value)
            if label is not None and score is not None:
                _add_evaluation(call, label, score, stats)
        elif name == "exception" and call.is_error and call.error_type is None:
            for kv in event.attributes:
                if kv.key == "exception.type":
                    call.error_type = as_text(unwrap(kv.value), "error_type", stats)


def _add_evaluation(call: LlmCall, label: Any, score: Any, stats: IngestStats | None) -> None:
    name = as_text(label, "evaluation.name", stats)
    raw = plain(score)
    if name is None or isinstance(raw, bool) or not isinstance(raw, (int, float)):
        if stats is not None:
            stats.sanitise("evaluation: missing name or numeric score")
        return
    value = float(raw)
    if not math.isfinite(value):
        if stats is not None:
            stats.sanitise("evaluation: not finite")
        return
    if name in call.evaluations or len(call.evaluations) < MAX_LIST:
        call.evaluations[name] = value
