"""The demo's scripted story as data: services and their keys, a silent swap, a benign incident.

Times are fractions of the run, so the same story plays at any duration and speed. Each key is
served by a measured model profile (``profiles.json``); the catalog has no Anthropic
measurements, so the two Claude models are served with the measured timing of models of the
a like tier (Gemini 1.5 Flash and Pro) under their Anthropic names, without fingerprints (the
Anthropic API has none).

Why ``gpt-4-turbo`` → ``gpt-3.5-turbo`` and not ``gpt-4o`` → ``gpt-4o-mini``: in the measured
profiles those two differ in their fingerprints only (same speed within 12%, same length
within 10%), and one moved signal is, by design, not enough for a swap. The turbo downgrade
moves decode rate, output length and fingerprint together, as a real downgrade does.

>>> s = SCENARIOS["swap-and-incident"]
>>> [k.surface for k in s.keys]
['product-qa', 'autocomplete', 'ticket-triage', 'reply-drafts']
>>> s.swaps[0].surface, s.incidents[0].provider
('product-qa', 'anthropic')
>>> [k.surface for k in s.keys_of("anthropic")]
['ticket-triage', 'reply-drafts']
>>> sorted(SCENARIOS)
['incident', 'quiet', 'swap', 'swap-and-incident']
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from swapwatch.detector.simulator.profiles import ModelProfile, ProfileCatalog

Api = Literal["openai", "anthropic"]

# Profiles for models the catalog has not measured: (measured profile, served model string).
STAND_INS: dict[str, tuple[str, str]] = {
    "anthropic/claude-haiku-4-5": ("gcp.gemini/gemini-1.5-flash", "claude-haiku-4-5-20251001"),
    "anthropic/claude-opus-4-5": ("gcp.gemini/gemini-1.5-pro", "claude-opus-4-5-20251101"),
}


def demo_profile(catalog: ProfileCatalog, profile_id: str) -> ModelProfile:
    """A measured profile, or a stand-in (see :data:`STAND_INS`) under its own name.

    >>> from swapwatch.detector.simulator.profiles import load_catalog
    >>> p = demo_profile(load_catalog(), "anthropic/claude-haiku-4-5")
    >>> p.served_model, p.fingerprints, p.provider
    ('claude-haiku-4-5-20251001', (), 'anthropic')
    """
    if profile_id not in STAND_INS:
        return catalog.model(profile_id)
    measured, served = STAND_INS[profile_id]
    base = catalog.model(measured).derive(id=profile_id, served_model=served, fingerprints=())
    return replace(base, provider=profile_id.split("/")[0])


@dataclass(frozen=True)
class DemoKey:
    """One series: a surface of a service calling one model through one SDK."""

    service: str
    surface: str
    api: Api  # which SDK and API; also the provider
    request_model: str
    profile: str  # profile id serving it (measured, or a stand-in)
    share: float  # this key's share of the run's calls
    stream_share: float = 0.1
    max_tokens: int = 400

    @property
    def provider(self) -> str:
        return self.api


@dataclass(frozen=True)
class DemoSwap:
    """From ``at`` (fraction of the run) ``surface`` is served by ``profile``, still
    answering as ``shown_model``: a silent downgrade."""

    surface: str
    at: float
    profile: str
    shown_model: str


@dataclass(frozen=True)
class DemoIncident:
    """Every model of ``provider`` is ``slowdown`` times slower between two fractions."""

    provider: Api
    start: float
    end: float
    slowdown: float = 2.0


@dataclass(frozen=True)
class DemoScenario:
    name: str
    description: str
    keys: tuple[DemoKey, ...]
    swaps: tuple[DemoSwap, ...] = ()
    incidents: tuple[DemoIncident, ...] = ()

    def key(self, surface: str) -> DemoKey:
        return next(k for k in self.keys if k.surface == surface)

    def keys_of(self, provider: str) -> list[DemoKey]:
        return [k for k in self.keys if k.provider == provider]

    def services(self) -> list[str]:
        return list(dict.fromkeys(k.service for k in self.keys))


# Streamed calls are a minority: the openai SDK spends ~0.5 ms of CPU on every chunk, and a
# demo on a small machine must keep the time its spans measure the provider's, not its own.
KEYS: tuple[DemoKey, ...] = (
    DemoKey("shop", "product-qa", "openai", "gpt-4-turbo", "openai/gpt-4-turbo", 0.31),
    DemoKey("search", "autocomplete", "openai", "gpt-4o-mini", "openai/gpt-4o-mini", 0.15,
            max_tokens=256),
    DemoKey("support", "ticket-triage", "anthropic", "claude-haiku-4-5",
            "anthropic/claude-haiku-4-5", 0.28, max_tokens=256),
    DemoKey("support", "reply-drafts", "anthropic", "claude-opus-4-5",
            "anthropic/claude-opus-4-5", 0.26),
)
SWAP = DemoSwap("product-qa", at=0.62, profile="openai/gpt-3.5-turbo",
                shown_model="gpt-4-turbo-2024-04-09")
INCIDENT = DemoIncident("anthropic", start=0.5, end=0.75, slowdown=2.0)

SCENARIOS: dict[str, DemoScenario] = {
    s.name: s for s in (
        DemoScenario("swap-and-incident",
                     "gpt-4-turbo on product-qa silently served by gpt-3.5-turbo; Anthropic "
                     "2x slower for a stretch", KEYS, swaps=(SWAP,), incidents=(INCIDENT,)),
        DemoScenario("swap", "gpt-4-turbo on product-qa silently served by gpt-3.5-turbo",
                     KEYS, swaps=(SWAP,)),
        DemoScenario("incident", "Anthropic 2x slower for a stretch; no swap", KEYS,
                     incidents=(INCIDENT,)),
        DemoScenario("quiet", "nothing changes: no alert is the right answer", KEYS),
    )
}
DEFAULT_SCENARIO = "swap-and-incident"
