"""Which spans the collector forwards, and the Kafka key each one travels under.

One OTLP request may hold spans of many series; the collector splits it into one Kafka record
per key, each an ``ExportTraceServiceRequest`` holding only that key's spans under copies of
their resource and scope (the bytes the Collector's ``kafka`` exporter writes with
``otlp_proto``). Keyed by series, every call of a series lands on one partition.

>>> from opentelemetry.proto.common.v1.common_pb2 import AnyValue
>>> req = ExportTraceServiceRequest()
>>> rs = req.resource_spans.add()
>>> _ = rs.resource.attributes.add(key="service.name", value=AnyValue(string_value="shop"))
>>> spans = rs.scope_spans.add().spans
>>> for i, model in enumerate(["gpt-4o", "gpt-4o-mini", None]):
...     s = spans.add(name="x", trace_id=bytes(16), span_id=bytes([i + 1] * 8),
...                   start_time_unix_nano=10**18, end_time_unix_nano=10**18 + 1)
...     if model:
...         _ = s.attributes.add(key="gen_ai.request.model", value=AnyValue(string_value=model))
>>> routed = SpanRouter(CollectorConfig()).route(req)
>>> (routed.kept_spans, routed.dropped_spans)
(2, 1)
>>> sorted(key for key, _ in routed.records)
[b'shop|x|-|gpt-4o-mini|-', b'shop|x|-|gpt-4o|-']
>>> SpanRouter(CollectorConfig(key_by="none", keep="all")).route(req).records[0][0] is None
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from swapwatch.collector.config import CollectorConfig
from swapwatch.detector.ingest.config import IngestConfig
from swapwatch.detector.ingest.decode import extractor_for
from swapwatch.detector.ingest.extract import is_llm_span
from swapwatch.detector.runtime.records import partition_key

KafkaRecord = tuple[bytes | None, bytes]


@dataclass
class RoutedSpans:
    """The records to produce for one OTLP request, and what the filter did."""

    records: list[KafkaRecord] = field(default_factory=list)
    kept_spans: int = 0
    dropped_spans: int = 0


class SpanRouter:
    """Filters spans (LLM calls by default) and groups them into keyed Kafka records."""

    def __init__(self, config: CollectorConfig, ingest: IngestConfig | None = None) -> None:
        self.config = config
        self._extractor = extractor_for(ingest or IngestConfig())
        self._prefixes = tuple(config.also_keep_attribute_prefixes)

    def keeps(self, span: Any) -> bool:
        if self.config.keep == "all" or is_llm_span(span):
            return True
        return bool(self._prefixes) and any(
            kv.key.startswith(self._prefixes) for kv in span.attributes)

    def _series_keys(self, request: ExportTraceServiceRequest) -> dict[str, bytes]:
        # The detector's own extraction decides the series, so both sides agree on the key.
        calls = self._extractor.calls(request)
        return {c.span_id: partition_key(c, "series") for c in calls if c.span_id}

    def route(self, request: ExportTraceServiceRequest) -> RoutedSpans:
        out = RoutedSpans()
        series = self._series_keys(request) if self.config.key_by == "series" else {}
        grouped: dict[bytes | None, _Grouped] = {}
        for rs_index, resource_spans in enumerate(request.resource_spans):
            for ss_index, scope_spans in enumerate(resource_spans.scope_spans):
                for span in scope_spans.spans:
                    if not self.keeps(span):
                        out.dropped_spans += 1
                        continue
                    out.kept_spans += 1
                    key = self._key(span, series)
                    target = grouped.get(key)
                    if target is None:
                        target = grouped[key] = _Grouped()
                    target.scope(rs_index, ss_index, resource_spans, scope_spans).spans.append(
                        span)
        out.records = [(key, g.request.SerializeToString()) for key, g in grouped.items()]
        return out

    def _key(self, span: Any, series: dict[str, bytes]) -> bytes | None:
        if self.config.key_by == "series":
            # spans kept but not model calls (extra prefixes, keep: all) follow their trace
            return series.get(span.span_id.hex()) or span.trace_id.hex().encode() or None
        if self.config.key_by == "trace_id":
            return span.trace_id.hex().encode() or None
        return None


class _Grouped:
    """One key's request, with its copies of the source's resources and scopes."""

    def __init__(self) -> None:
        self.request = ExportTraceServiceRequest()
        self._resources: dict[int, Any] = {}
        self._scopes: dict[tuple[int, int], Any] = {}

    def scope(self, rs_index: int, ss_index: int, resource_spans: Any, scope_spans: Any) -> Any:
        found = self._scopes.get((rs_index, ss_index))
        if found is not None:
            return found
        rs = self._resources.get(rs_index)
        if rs is None:
            rs = self.request.resource_spans.add(schema_url=resource_spans.schema_url)
            rs.resource.CopyFrom(resource_spans.resource)
            self._resources[rs_index] = rs
        ss = rs.scope_spans.add(schema_url=scope_spans.schema_url)
        ss.scope.CopyFrom(scope_spans.scope)
        self._scopes[(rs_index, ss_index)] = ss
        return ss
