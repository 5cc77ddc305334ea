"""Programmatic setup, for services that configure OpenTelemetry in code.

* :func:`configure` builds a tracer provider exporting over OTLP through a
  :class:`~swapwatch.instrumentation.processor.SwapwatchSpanProcessor`, makes it global, and
  calls :func:`instrument`.
* :func:`instrument` is for a service that already has a tracer provider: it loads the chosen
  GenAI instrumentor per SDK (:mod:`.choice`) against that provider and installs the request
  hooks. Wrap the provider's exporting processor yourself::

      provider.add_span_processor(SwapwatchSpanProcessor(BatchSpanProcessor(exporter)))
      swapwatch.instrumentation.instrument(tracer_provider=provider)

>>> from opentelemetry.sdk.trace.export import SimpleSpanProcessor
>>> from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
>>> provider = configure(service_name="checkout", set_global=False, instrument_sdks=False,
...                      export=SimpleSpanProcessor(InMemorySpanExporter()))
>>> provider.resource.attributes["service.name"]
'checkout'
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from swapwatch.instrumentation.choice import PREFERENCE, chosen_entry_points, distribution_name
from swapwatch.instrumentation.config import InstrumentationConfig, opt_in_latest_gen_ai
from swapwatch.instrumentation.hooks import install_request_hooks
from swapwatch.instrumentation.processor import SwapwatchSpanProcessor

log = logging.getLogger(__name__)

_instrumented: list[Any] = []


def otlp_exporter(endpoint: str | None, protocol: str | None) -> SpanExporter:
    """The OTLP span exporter for ``protocol`` (``grpc`` or ``http/protobuf``; default from
    ``OTEL_EXPORTER_OTLP_PROTOCOL``, else ``grpc``). ``endpoint=None`` reads ``OTEL_*``.

    An HTTP endpoint given without a path gets ``/v1/traces``, as the OTLP spec's base URL.
    """
    protocol = protocol or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        insecure = endpoint.startswith("http://") if endpoint else None
        return OTLPSpanExporter(endpoint=endpoint, insecure=insecure)
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpSpanExporter,
        )

        if endpoint and not endpoint.rstrip("/").endswith("/v1/traces"):
            endpoint = endpoint.rstrip("/") + "/v1/traces"
        return HttpSpanExporter(endpoint=endpoint)
    raise ValueError(f"OTLP protocol must be 'grpc' or 'http/protobuf', got {protocol!r}")


def configure(service_name: str | None = None, endpoint: str | None = None, *,
              protocol: str | None = None, config: InstrumentationConfig | None = None,
              resource_attributes: Mapping[str, str] | None = None,
              export: SpanProcessor | None = None, set_global: bool = True,
              instrument_sdks: bool = True) -> TracerProvider:
    """Set up tracing of LLM calls in one line; returns the tracer provider.

    ``export`` replaces the default ``BatchSpanProcessor(OTLP exporter)`` (tests pass an
    in-memory one). ``config`` defaults to :meth:`InstrumentationConfig.from_env`.
    """
    config = config if config is not None else InstrumentationConfig.from_env(os.environ)
    attributes = dict(resource_attributes or {})
    if service_name:
        attributes["service.name"] = service_name
    provider = TracerProvider(resource=Resource.create(attributes))
    if export is None:
        export = BatchSpanProcessor(otlp_exporter(endpoint, protocol))
    provider.add_span_processor(SwapwatchSpanProcessor(export, config))
    if set_global:
        trace.set_tracer_provider(provider)
    if instrument_sdks:
        instrument(tracer_provider=provider, config=config)
    return provider


def instrument(tracer_provider: TracerProvider | None = None,
               config: InstrumentationConfig | None = None) -> list[str]:
    """Load the chosen GenAI instrumentor per SDK and install the request hooks.

    Returns the instrumentor distributions loaded. Opts in to the current GenAI semantic
    conventions first (``OTEL_SEMCONV_STABILITY_OPT_IN``), which the instrumentors read.
    The Anthropic SDK's own spans use the global provider, or the ``tracer_provider`` in its
    ``open_telemetry`` client option.
    """
    config = config if config is not None else InstrumentationConfig.from_env(os.environ)
    opt_in_latest_gen_ai(os.environ)
    loaded: list[str] = []
    for sdk in PREFERENCE:
        for entry_point in chosen_entry_points(sdk, config.instrumentor_choice):
            try:
                instrumentor = entry_point.load()()
                instrumentor.instrument(tracer_provider=tracer_provider)
                _instrumented.append(instrumentor)
                loaded.append(distribution_name(entry_point))
            except Exception:
                log.exception("swapwatch: could not instrument %s with %s", sdk, entry_point)
    install_request_hooks(count_prompt_chars=config.count_prompt_chars)
    return loaded


def uninstrument() -> None:
    """Undo :func:`instrument`'s instrumentors (the request hooks stay; they are inert
    without LLM spans)."""
    while _instrumented:
        _instrumented.pop().uninstrument()
