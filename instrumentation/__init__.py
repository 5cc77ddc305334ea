"""swapwatch instrumentation: gen_ai spans with surface, tenant, prompt size and cost.

Zero code: ``pip install 'swapwatch[instrumentation]'`` and run the service under
``opentelemetry-instrument`` (:mod:`.distro`). In code: :func:`configure` (or
:func:`instrument` and a :class:`SwapwatchSpanProcessor` on an existing tracer provider).
Name the product surface and tenant of the calls inside a block with :func:`surface`.

Importing this package imports no LLM SDK and no instrumentor; those load when used.
"""

from swapwatch.instrumentation.config import InstrumentationConfig
from swapwatch.instrumentation.context import SurfaceScope, current_tags, surface
from swapwatch.instrumentation.hooks import install_request_hooks
from swapwatch.instrumentation.processor import SwapwatchSpanProcessor
from swapwatch.instrumentation.programmatic import configure, instrument, uninstrument

__all__ = [
    "InstrumentationConfig",
    "SurfaceScope",
    "SwapwatchSpanProcessor",
    "configure",
    "current_tags",
    "install_request_hooks",
    "instrument",
    "surface",
    "uninstrument",
]
