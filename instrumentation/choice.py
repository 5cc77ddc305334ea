"""Which GenAI instrumentor to load for each SDK: one per SDK, chosen deliberately.

Under ``opentelemetry-instrument`` every installed instrumentor loads, and all of the OpenAI
ones register under the same entry-point name (``openai``), so
``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=openai`` can only turn all of them off. Two
instrumentors on one SDK give two LLM spans per call, which doubles every call the detector
counts. The swapwatch distro therefore loads, per SDK, the first of :data:`PREFERENCE` that is
installed and imports (``SWAPWATCH_GENAI_INSTRUMENTORS=all`` restores the load-everything
default), and none at all for an SDK that traces itself (the Anthropic SDK 2.x emits its own
``gen_ai`` spans).

Why this order (evaluated against openai 3.x and anthropic 2.x, sync, async and streaming):

* ``opentelemetry-instrumentation-genai-openai`` (official contrib, successor of ``-openai-v2``):
  current semconv, fingerprint and service tier, time to first chunk, usage in streams.
* ``opentelemetry-instrumentation-openai-v2``: official, but imports ``httpx``, which openai 3.x
  no longer uses: it fails to import there (kept as a fallback for older SDKs).
* OpenLLMetry and OpenInference: widely used, but record prompt and completion content by
  default and write older or non-OTel attribute names.
* Anthropic: the SDK's own spans have served model, usage, service tier and time to first
  chunk; ``opentelemetry-instrumentation-genai-anthropic`` (official contrib) is the fallback
  for SDK versions without them.

>>> installed = {"opentelemetry-instrumentation-openai",
...              "opentelemetry-instrumentation-genai-openai"}
>>> sorted(instrumentors_to_load("openai", installed, sdk_traces_itself=False))
['opentelemetry-instrumentation-genai-openai']
>>> sorted(instrumentors_to_load("openai", installed, sdk_traces_itself=False,
...        loads=lambda d: d != "opentelemetry-instrumentation-genai-openai"))  # import fails
['opentelemetry-instrumentation-openai']
>>> instrumentors_to_load("anthropic", {"opentelemetry-instrumentation-anthropic"},
...                       sdk_traces_itself=True)
frozenset()
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from typing import Any

from swapwatch.instrumentation.config import InstrumentorChoice

log = logging.getLogger(__name__)

#: SDK (the instrumentor entry point's name) → distributions, most preferred first.
PREFERENCE: Mapping[str, tuple[str, ...]] = {
    "openai": (
        "opentelemetry-instrumentation-genai-openai",
        "opentelemetry-instrumentation-openai-v2",
        "opentelemetry-instrumentation-openai",
        "openinference-instrumentation-openai",
    ),
    "anthropic": (
        "opentelemetry-instrumentation-genai-anthropic",
        "opentelemetry-instrumentation-anthropic",
        "openinference-instrumentation-anthropic",
    ),
}


def instrumentors_to_load(sdk: str, installed: Collection[str], *, sdk_traces_itself: bool,
                          choice: InstrumentorChoice = "preferred",
                          loads: Callable[[str], bool] = lambda distribution: True,
                          ) -> frozenset[str]:
    """Distributions to load for ``sdk`` among the ``installed`` instrumentors of it.

    ``loads(distribution)`` says whether one imports and fits the installed SDK; it is asked
    in order of preference, only until one does. An SDK swapwatch does not know keeps every
    instrumentor (it is not ours to choose).

    >>> instrumentors_to_load("openai", {"openinference-instrumentation-openai"},
    ...                       sdk_traces_itself=False)
    frozenset({'openinference-instrumentation-openai'})
    >>> sorted(instrumentors_to_load("requests", {"a", "b"}, sdk_traces_itself=False))
    ['a', 'b']
    >>> sorted(instrumentors_to_load("anthropic", {"x", "y"}, sdk_traces_itself=True,
    ...                              choice="all"))
    ['x', 'y']
    """
    preference = PREFERENCE.get(sdk)
    if choice == "all" or preference is None:
        return frozenset(installed)
    if sdk_traces_itself:
        return frozenset()
    for distribution in preference:
        if distribution in installed and loads(distribution):
            return frozenset({distribution})
    unknown = frozenset(installed) - frozenset(preference)
    return unknown  # only instrumentors we do not know (or none that loads): not ours to choose


def distribution_name(entry_point: Any) -> str:
    """The normalised name of the distribution that registered ``entry_point``."""
    dist = getattr(entry_point, "dist", None)
    return str(getattr(dist, "name", "") or "").lower().replace("_", "-")


def chosen_entry_points(sdk: str, choice: InstrumentorChoice = "preferred",
                        group: str = "opentelemetry_instrumentor") -> list[Any]:
    """The installed instrumentor entry points for ``sdk`` that swapwatch loads.

    A candidate "loads" when its declared SDK version range fits and its module imports.
    """
    from opentelemetry.instrumentation.dependencies import get_dist_dependency_conflicts
    from opentelemetry.util._importlib_metadata import entry_points

    candidates = {distribution_name(ep): ep for ep in entry_points(group=group, name=sdk)}

    def loads(distribution: str) -> bool:
        entry_point = candidates[distribution]
        try:
            dist = entry_point.dist
            if dist is not None and get_dist_dependency_conflicts(dist):
                return False
            entry_point.load()
            return True
        except Exception as err:
            log.debug("swapwatch: %s does not load: %s", distribution, err)
            return False

    chosen = instrumentors_to_load(
        sdk, candidates, loads=loads, choice=choice,
        sdk_traces_itself=sdk == "anthropic" and anthropic_traces_itself())
    return [candidates[name] for name in sorted(chosen)]


def anthropic_traces_itself() -> bool:
    """Whether the installed ``anthropic`` SDK emits its own OpenTelemetry spans (2.x does)."""
    try:
        from anthropic import _tracing  # noqa: F401

        return True
    except ImportError:
        return False
