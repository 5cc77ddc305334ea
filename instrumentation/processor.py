"""``SwapwatchSpanProcessor``: surface, tenant, prompt size and cost on every LLM span.

Design. What is known when a span starts is written on the live span in ``on_start``:
surface and tenant (from :func:`~swapwatch.instrumentation.surface` or baggage, else the
configured defaults) and the prompt size (from the SDK call's
:class:`~swapwatch.instrumentation.hooks.CallSlot`). The cost is only known when the span
ends, and a span is immutable by then, so the processor *wraps* the processor that exports
(usually a ``BatchSpanProcessor``): in ``on_end`` it hands that processor a copy of the span
with ``swapwatch.cost.usd`` added (the original is untouched; a span that gains nothing is
passed through as is). Without a wrapped processor, it only tags at start.

Both hooks run on the application's thread: they never block (a memoised price lookup and a
dict copy) and never raise (failures are counted in :attr:`SwapwatchSpanProcessor.failures`;
the span is still exported).

>>> from opentelemetry.sdk.trace import TracerProvider
>>> from opentelemetry.sdk.trace.export import SimpleSpanProcessor
>>> from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
>>> exported = InMemorySpanExporter()
>>> provider = TracerProvider()
>>> provider.add_span_processor(SwapwatchSpanProcessor(SimpleSpanProcessor(exported)))
>>> from swapwatch.instrumentation.context import surface
>>> with surface("autocomplete", tenant="acme"):
...     with provider.get_tracer("demo").start_as_current_span("chat gpt-4o", attributes={
...             "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
...             "gen_ai.request.model": "gpt-4o"}) as span:
...         span.set_attributes({"gen_ai.usage.input_tokens": 1000,
...                              "gen_ai.usage.output_tokens": 200})
>>> attrs = exported.get_finished_spans()[0].attributes
>>> attrs["swapwatch.surface"], attrs["swapwatch.tenant"], round(attrs["swapwatch.cost.usd"], 6)
('autocomplete', 'acme', 0.0045)
"""

from __future__ import annotations

from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from swapwatch.detector.ingest.attributes import COST_USD, SURFACE, TENANT
from swapwatch.detector.ingest.pricing import call_cost_usd
from swapwatch.instrumentation.config import InstrumentationConfig
from swapwatch.instrumentation.context import current_tags
from swapwatch.instrumentation.enrich import PriceFunction, call_cost, is_llm_span
from swapwatch.instrumentation.hooks import belongs_to, current_call


class SwapwatchSpanProcessor(SpanProcessor):
    """Tags LLM spans at start; adds their cost on the way to the wrapped ``export`` processor."""

    def __init__(self, export: SpanProcessor | None = None,
                 config: InstrumentationConfig | None = None, *,
                 price: PriceFunction = call_cost_usd) -> None:
        self.export = export
        self.config = config if config is not None else InstrumentationConfig()
        self._price = price
        self._failures = 0

    @property
    def failures(self) -> int:
        """Enrichments skipped because of an unexpected error (the spans were still passed on)."""
        return self._failures

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            if is_llm_span(span.attributes):
                self._tag(span, parent_context)
        except Exception:  # a hook on the application's thread never raises
            self._failures += 1
        if self.export is not None:
            self.export.on_start(span, parent_context)

    def _tag(self, span: Span, parent_context: Context | None) -> None:
        name, tenant = current_tags(parent_context)
        name = name or self.config.default_surface
        tenant = tenant or self.config.default_tenant
        if name is not None:
            span.set_attribute(SURFACE, name)
        if tenant is not None:
            span.set_attribute(TENANT, tenant)
        slot = current_call()
        if slot is not None and slot.span is None and belongs_to(span, slot.vendor):
            slot.claim(span)

    def on_end(self, span: ReadableSpan) -> None:
        if self.export is None:
            return
        try:
            out = self._with_cost(span) if self.config.compute_cost else span
        except Exception:
            self._failures += 1
            out = span
        self.export.on_end(out)

    def _with_cost(self, span: ReadableSpan) -> ReadableSpan:
        if not span.attributes:
            return span
        attributes = dict(span.attributes)  # one pass over the locked mapping, then plain reads
        if COST_USD in attributes or not is_llm_span(attributes):
            return span
        cost = call_cost(attributes, span.start_time, self._price)
        if cost is None:
            return span
        attributes[COST_USD] = cost
        return _copy_with(span, attributes)

    def shutdown(self) -> None:
        if self.export is not None:
            self.export.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.export.force_flush(timeout_millis) if self.export is not None else True


def _copy_with(span: ReadableSpan, attributes: dict[str, Any]) -> ReadableSpan:
    """A finished span with other ``attributes`` (spans are immutable once ended)."""
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=span.events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
