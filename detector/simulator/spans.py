"""Simulated calls as OTLP JSON lines, exactly as a Collector's file exporter writes them.

Each line is ``{"resourceSpans": [...]}``: a batch of up to ``batch_size`` spans whose end
times fall within ``batch_window_s``, grouped by resource (service and environment). The
defaults are the OTel SDK's ``BatchSpanProcessor`` (5 s schedule delay, 512 spans per export):
a collector without a batch processor writes each export request it receives as one line.
Trace and span ids are hex, int64 values are strings, enums are numbers. The attributes
follow one of four dialects (``docs/interop.md``): ``otel`` (current GenAI semconv plus
swapwatch's span processor), ``otel-legacy``, ``openllmetry``, ``openinference``.

>>> import io, json
>>> from swapwatch.detector.calls import LlmCall
>>> call = LlmCall(start_ns=1_772_409_600_000_000_000, end_ns=1_772_409_601_500_000_000,
...                trace_id="ab" * 16, span_id="cd" * 8, service="api", environment="prod",
...                surface="chat", provider="openai", server_address="api.openai.com",
...                operation="chat", request_model="gpt-4o", response_model="gpt-4o-2024-08-06",
...                input_tokens=120, output_tokens=40, finish_reasons=("stop",),
...                time_to_first_chunk_s=0.4, streaming=True, prompt_chars=480)
>>> out = io.BytesIO()
>>> with SpanWriter(out, dialect="otel") as writer:
...     writer.write(call)
>>> line = json.loads(out.getvalue())
>>> span = line["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
>>> span["name"], span["kind"], span["startTimeUnixNano"]
('chat gpt-4o', 3, '1772409600000000000')
>>> attrs = {a["key"]: a["value"] for a in span["attributes"]}
>>> attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.response.finish_reasons"]
({'intValue': '120'}, {'arrayValue': {'values': [{'stringValue': 'stop'}]}})
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import IO, Any, Literal

try:  # orjson is ~20x faster; the standard library is the fallback of a light install
    import orjson

    def _dumps(value: Any) -> bytes:
        return orjson.dumps(value)
except ImportError:  # pragma: no cover - depends on the install

    def _dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":")).encode()

from swapwatch.detector.calls import LlmCall
from swapwatch.detector.ingest import attributes as sw

Dialect = Literal["otel", "otel-legacy", "openllmetry", "openinference"]
DIALECTS: tuple[Dialect, ...] = ("otel", "otel-legacy", "openllmetry", "openinference")

SPAN_KIND_INTERNAL = 1
SPAN_KIND_CLIENT = 3
STATUS_ERROR = 2
SDK_VERSION = "1.38.0"
# W3C trace flags as the Python SDK exports them (sampled, parent-is-remote known).
SPAN_FLAGS = 256

# Instrumentation scope per dialect: the package that would have written the span.
SCOPES: dict[str, dict[str, str]] = {
    "otel": {"name": "opentelemetry.instrumentation.genai.openai", "version": "1.3b0"},
    "otel-legacy": {"name": "opentelemetry.instrumentation.openai_v2", "version": "2.0b0"},
    "openllmetry": {"name": "opentelemetry.instrumentation.openai.v1", "version": "0.62.4"},
    "openinference": {"name": "openinference.instrumentation.openai", "version": "0.1.66"},
}
EVALUATION_EVENT = "gen_ai.evaluation.result"


def _s(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


def _i(key: str, value: int) -> dict[str, Any]:
    return {"key": key, "value": {"intValue": str(value)}}


def _d(key: str, value: float) -> dict[str, Any]:
    return {"key": key, "value": {"doubleValue": value}}


def _b(key: str, value: bool) -> dict[str, Any]:
    return {"key": key, "value": {"boolValue": value}}


def _strings(key: str, values: tuple[str, ...]) -> dict[str, Any]:
    return {"key": key, "value": {"arrayValue": {"values": [{"stringValue": v} for v in values]}}}


def _caller(call: LlmCall, attrs: list[dict[str, Any]], surface_key: str) -> None:
    """What swapwatch's span processor adds: surface, tenant, prompt size, price."""
    if call.surface:
        attrs.append(_s(surface_key, call.surface))
    if call.tenant:
        attrs.append(_s(sw.TENANT, call.tenant))
    if call.prompt_chars is not None:
        attrs.append(_i(sw.PROMPT_CHARS, call.prompt_chars))
    if call.cost_usd is not None:
        attrs.append(_d(sw.COST_USD, call.cost_usd))


def _otel_attributes(
    call: LlmCall, legacy: bool, max_tokens: int | None
) -> list[dict[str, Any]]:
    attrs = [
        _s("gen_ai.operation.name", call.operation or "chat"),
        _s("gen_ai.system" if legacy else "gen_ai.provider.name", call.provider or "openai"),
        _s("gen_ai.request.model", call.request_model or ""),
    ]
    if max_tokens is not None:
        attrs.append(_i("gen_ai.request.max_tokens", max_tokens))
    if call.streaming and not legacy:
        attrs.append(_b("gen_ai.request.stream", True))
    if call.server_address:
        attrs.append(_s("server.address", call.server_address))
        attrs.append(_i("server.port", 443))
    if not call.is_error:
        openai_prefix = "gen_ai.openai." if legacy else "openai."
        attrs.append(_s("gen_ai.response.model", call.response_model or ""))
        if call.response_id:
            attrs.append(_s("gen_ai.response.id", call.response_id))
        attrs.append(_strings("gen_ai.response.finish_reasons", call.finish_reasons or ()))
        in_key, out_key = (
            ("gen_ai.usage.prompt_tokens", "gen_ai.usage.completion_tokens") if legacy
            else ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens")
        )
        attrs.append(_i(in_key, call.input_tokens or 0))
        attrs.append(_i(out_key, call.output_tokens or 0))
        if call.system_fingerprint:
            attrs.append(_s(openai_prefix + "response.system_fingerprint",
                            call.system_fingerprint))
        if call.service_tier:
            attrs.append(_s(openai_prefix + "response.service_tier", call.service_tier))
        if call.time_to_first_chunk_s is not None and not legacy:
            attrs.append(_d("gen_ai.response.time_to_first_chunk", call.time_to_first_chunk_s))
    if call.error_type:
        attrs.append(_s("error.type", call.error_type))
    _caller(call, attrs, sw.SURFACE)
    return attrs


def _openllmetry_attributes(call: LlmCall) -> list[dict[str, Any]]:
    attrs = [
        _s("llm.request.type", "chat"),
        _s("gen_ai.provider.name", call.provider or "openai"),
        _s("gen_ai.request.model", call.request_model or ""),
        _b("llm.is_streaming", bool(call.streaming)),
    ]
    if call.server_address:
        attrs.append(_s("server.address", call.server_address))
    if not call.is_error:
        attrs.append(_s("gen_ai.response.model", call.response_model or ""))
        if call.response_id:
            attrs.append(_s("gen_ai.response.id", call.response_id))
        attrs.append(_strings("gen_ai.response.finish_reasons", call.finish_reasons or ()))
        attrs.append(_i("gen_ai.usage.input_tokens", call.input_tokens or 0))
        attrs.append(_i("gen_ai.usage.output_tokens", call.output_tokens or 0))
        attrs.append(_i("llm.usage.total_tokens",
                        (call.input_tokens or 0) + (call.output_tokens or 0)))
        if call.system_fingerprint:
            attrs.append(_s("gen_ai.openai.response.system_fingerprint", call.system_fingerprint))
    if call.error_type:
        attrs.append(_s("error.type", call.error_type))
    _caller(call, attrs, "traceloop.workflow.name")
    return attrs


def _openinference_attributes(call: LlmCall) -> list[dict[str, Any]]:
    params = {"model": call.request_model, "stream": bool(call.streaming)}
    attrs = [
        _s("openinference.span.kind", "LLM"),
        _s("llm.provider", call.provider or "openai"),
        _s("llm.system", call.provider or "openai"),
        _s("llm.invocation_parameters", json.dumps(params, separators=(",", ":"))),
    ]
    if not call.is_error:
        attrs.append(_s("llm.model_name", call.response_model or ""))
        attrs.append(_i("llm.token_count.prompt", call.input_tokens or 0))
        attrs.append(_i("llm.token_count.completion", call.output_tokens or 0))
        attrs.append(_i("llm.token_count.total",
                        (call.input_tokens or 0) + (call.output_tokens or 0)))
        if call.finish_reasons:
            attrs.append(_s("llm.finish_reason", call.finish_reasons[0]))
    if call.error_type:
        attrs.append(_s("error.type", call.error_type))
    _caller(call, attrs, sw.SURFACE)
    return attrs


def span_name(call: LlmCall, dialect: str) -> str:
    if dialect == "openllmetry":
        return "openai.chat"
    if dialect == "openinference":
        return "ChatCompletion"
    return f"{call.operation or 'chat'} {call.request_model}"


def span_json(call: LlmCall, dialect: str, parent_span_id: str | None = None,
              max_tokens: int | None = None) -> dict[str, Any]:
    """One span in OTLP JSON for ``call`` in ``dialect`` (``max_tokens``: the request's cap)."""
    if dialect in ("otel", "otel-legacy"):
        attrs = _otel_attributes(call, dialect == "otel-legacy", max_tokens)
    elif dialect == "openllmetry":
        attrs = _openllmetry_attributes(call)
    elif dialect == "openinference":
        attrs = _openinference_attributes(call)
    else:
        raise ValueError(f"unknown dialect {dialect!r}; known: {', '.join(DIALECTS)}")
    span: dict[str, Any] = {
        "traceId": call.trace_id,
        "spanId": call.span_id,
        "name": span_name(call, dialect),
        "kind": SPAN_KIND_INTERNAL if dialect == "openinference" else SPAN_KIND_CLIENT,
        "startTimeUnixNano": str(call.start_ns),
        "endTimeUnixNano": str(call.end_ns),
        "attributes": attrs,
        "status": {"code": STATUS_ERROR, "message": call.error_type or ""} if call.is_error
        else {},
        "flags": SPAN_FLAGS,
    }
    if parent_span_id:
        span["parentSpanId"] = parent_span_id
    if call.evaluations:
        span["events"] = [
            {"timeUnixNano": str(call.end_ns), "name": EVALUATION_EVENT,
             "attributes": [_s("gen_ai.evaluation.name", name),
                            _d("gen_ai.evaluation.score.value", score)]}
            for name, score in call.evaluations.items()
        ]
    return span


def resource_json(service: str, environment: str | None, dialect: str) -> dict[str, Any]:
    env_key = "deployment.environment.name" if dialect == "otel" else "deployment.environment"
    instance = uuid.uuid5(uuid.NAMESPACE_URL, f"swapwatch-sim/{service}/{environment}")
    attrs = [
        _s("service.name", service),
        _s("service.instance.id", str(instance)),
        _s("telemetry.sdk.language", "python"),
        _s("telemetry.sdk.name", "opentelemetry"),
        _s("telemetry.sdk.version", SDK_VERSION),
    ]
    if environment:
        attrs.append(_s(env_key, environment))
    return {"attributes": attrs}


class SpanWriter:
    """Writes calls as collector-style batches, one JSON line per batch, to a binary stream.

    Calls must be written in the order the spans ended (as an exporter receives them).
    Not thread-safe.
    """

    def __init__(
        self,
        out: IO[bytes],
        dialect: str = "otel",
        batch_size: int = 512,
        batch_window_s: float = 5.0,
        parent_of: Callable[[LlmCall], str | None] | None = None,
        max_tokens_of: Callable[[LlmCall], int | None] | None = None,
    ) -> None:
        if dialect not in DIALECTS:
            raise ValueError(f"unknown dialect {dialect!r}; known: {', '.join(DIALECTS)}")
        self.out = out
        self.dialect = dialect
        self.batch_size = batch_size
        self.batch_window_ns = int(batch_window_s * 1e9)
        self._parent_of = parent_of
        self._max_tokens_of = max_tokens_of
        self._batch: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
        self._batch_count = 0
        self._batch_first_end = 0
        self._resources: dict[tuple[str, str | None], dict[str, Any]] = {}
        self.spans_written = 0
        self.lines_written = 0

    def write(self, call: LlmCall) -> None:
        if self._batch_count and (
            self._batch_count >= self.batch_size
            or call.end_ns - self._batch_first_end > self.batch_window_ns
        ):
            self.flush()
        if not self._batch_count:
            self._batch_first_end = call.end_ns
        resource = (call.service or "unknown_service", call.environment)
        parent = self._parent_of(call) if self._parent_of else None
        cap = self._max_tokens_of(call) if self._max_tokens_of else None
        self._batch.setdefault(resource, []).append(span_json(call, self.dialect, parent, cap))
        self._batch_count += 1

    def flush(self) -> None:
        if not self._batch_count:
            return
        scope = SCOPES[self.dialect]
        resource_spans = []
        for resource, spans in self._batch.items():
            if resource not in self._resources:
                self._resources[resource] = resource_json(resource[0], resource[1], self.dialect)
            resource_spans.append({
                "resource": self._resources[resource],
                "scopeSpans": [{"scope": scope, "spans": spans}],
            })
        self.out.write(_dumps({"resourceSpans": resource_spans}) + b"\n")
        self.spans_written += self._batch_count
        self.lines_written += 1
        self._batch = {}
        self._batch_count = 0

    def __enter__(self) -> SpanWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.flush()
