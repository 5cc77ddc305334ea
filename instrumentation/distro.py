"""Zero-code setup: the ``swapwatch`` OpenTelemetry distro and configurator.

Registered under the standard ``opentelemetry_distro`` and ``opentelemetry_configurator``
entry points, so ``opentelemetry-instrument python app.py`` runs with them when swapwatch is
the installed distro (set ``OTEL_PYTHON_DISTRO=swapwatch`` when another distro, such as
``opentelemetry-distro``, is installed too: OpenTelemetry otherwise takes whichever it finds
first).

* :class:`SwapwatchDistro` sets the environment defaults (:func:`apply_environment_defaults`:
  OTLP exporters, the current GenAI semantic conventions, content capture off, and the
  swapwatch configurator) and loads one GenAI instrumentor per SDK (:mod:`.choice`).
* :class:`SwapwatchConfigurator` is the SDK's own configurator (everything ``OTEL_*`` still
  applies) with each exporter's batch processor wrapped in a
  :class:`~swapwatch.instrumentation.processor.SwapwatchSpanProcessor`, and the request hooks
  of :mod:`.hooks` installed.

>>> env = {"OTEL_SEMCONV_STABILITY_OPT_IN": "http"}
>>> apply_environment_defaults(env)
>>> env["OTEL_SEMCONV_STABILITY_OPT_IN"], env["OTEL_TRACES_EXPORTER"]
('http,gen_ai_latest_experimental', 'otlp')
>>> env["TRACELOOP_TRACE_CONTENT"], env["OTEL_PYTHON_CONFIGURATOR"]
('false', 'swapwatch')
"""

from __future__ import annotations

import logging
import os
from collections.abc import MutableMapping
from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.sdk._configuration import _OTelSDKConfigurator
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from swapwatch.instrumentation.choice import PREFERENCE, chosen_entry_points, distribution_name
from swapwatch.instrumentation.config import (
    InstrumentationConfig,
    opt_in_latest_gen_ai,
)
from swapwatch.instrumentation.hooks import install_request_hooks
from swapwatch.instrumentation.processor import SwapwatchSpanProcessor

log = logging.getLogger(__name__)


#: Defaults the distro sets (an explicitly set variable always wins).
ENVIRONMENT_DEFAULTS: dict[str, str] = {
    "OTEL_TRACES_EXPORTER": "otlp",
    "OTEL_METRICS_EXPORTER": "otlp",
    "OTEL_LOGS_EXPORTER": "otlp",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
    "OTEL_PYTHON_CONFIGURATOR": "swapwatch",
    # Content capture off in the instrumentors that record it by default (if enabled with
    # SWAPWATCH_GENAI_INSTRUMENTORS=all); the official ones and the Anthropic SDK default off.
    "TRACELOOP_TRACE_CONTENT": "false",
    "OPENINFERENCE_HIDE_INPUTS": "true",
    "OPENINFERENCE_HIDE_OUTPUTS": "true",
}


def apply_environment_defaults(environ: MutableMapping[str, str]) -> None:
    """Fill in :data:`ENVIRONMENT_DEFAULTS` and opt in to the current GenAI conventions
    (which record fingerprints and service tiers), keeping any other opt-ins."""
    for name, value in ENVIRONMENT_DEFAULTS.items():
        environ.setdefault(name, value)
    opt_in_latest_gen_ai(environ)


class SwapwatchDistro(BaseDistro):  # type: ignore[misc]
    """Environment defaults, and one GenAI instrumentor per SDK."""

    def __init__(self) -> None:
        self._plan: dict[str, frozenset[str]] = {}

    def _configure(self, **kwargs: Any) -> None:
        apply_environment_defaults(os.environ)

    def load_instrumentor(self, entry_point: Any, **kwargs: Any) -> None:
        sdk = entry_point.name
        if sdk in PREFERENCE:
            wanted = self._plan.get(sdk)
            if wanted is None:
                choice = InstrumentationConfig.from_env(os.environ).instrumentor_choice
                chosen = chosen_entry_points(sdk, choice, entry_point.group)
                wanted = self._plan[sdk] = frozenset(distribution_name(ep) for ep in chosen)
            distribution = distribution_name(entry_point)
            if distribution not in wanted:
                log.debug("swapwatch: not loading %s for %s (loading %s)", distribution, sdk,
                          sorted(wanted) or "none")
                return
        super().load_instrumentor(entry_point, **kwargs)


class SwapwatchConfigurator(_OTelSDKConfigurator):  # type: ignore[misc]
    """The OpenTelemetry SDK configurator, with swapwatch's span processor around exports."""

    def _configure(self, **kwargs: Any) -> None:
        config = InstrumentationConfig.from_env(os.environ)

        def export_processor(exporter: SpanExporter) -> SwapwatchSpanProcessor:
            return SwapwatchSpanProcessor(BatchSpanProcessor(exporter), config)

        kwargs.setdefault("export_span_processor", export_processor)
        super()._configure(**kwargs)
        install_request_hooks(count_prompt_chars=config.count_prompt_chars)
