"""The swap benchmark's scenarios (``docs/benchmark.md``), declared as data over one fleet.

Every scenario runs the same realistic company fleet (8 keys: four OpenAI models on five
surfaces, Gemini, Llama-2 on Together, Mistral; 250 to 3,000 calls a day each) plus the keys
the scenario needs, and changes one thing. Magnitudes come from the measured profiles
(gpt-4o vs gpt-4o-mini, 70B vs 13B per host, host vs host), several per scenario as
``variants``. The seed picks the change time and every random draw.

>>> sorted(SUITE)[:3]
['eval-vs-prod', 'finetune-repoint', 'honest-failover']
>>> s = build_scenario("router-drift", variant="10>40", seed=2)
>>> len(s.keys), s.changes[0].kind, s.changes[0].ramp_s
(9, 'router-drift', 21600.0)
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, replace

from swapwatch.detector.simulator.profiles import ModelProfile, ProfileCatalog, load_catalog
from swapwatch.detector.simulator.scenario import (
    Arm,
    Divergence,
    KeySpec,
    PromptGrowth,
    ProviderIncident,
    Scenario,
    ServingChange,
)

DAY = 86400.0
HOUR = 3600.0

CHAT = "support-api/chat-assistant/gpt-4o/prod"
AUTOCOMPLETE = "ide-backend/autocomplete/gpt-4o-mini/prod"
CODE_REVIEW = "ide-backend/code-review/gpt-4o/prod"
SUMMARIZE = "search/summarize/gpt-4-turbo/prod"
ANSWER = "docs-bot/answer/gemini-1.5-pro/prod"
REPORT = "analytics/report-writer/meta-llama/Llama-2-70b-chat-hf/prod"
TOGETHER_LLAMA_70B = "meta-llama/Llama-2-70b-chat-hf"


def fleet(c: ProfileCatalog) -> list[KeySpec]:
    """The keys every scenario shares: busy and quiet, streaming and not, four providers."""
    m = c.model
    return [
        KeySpec("support-api", "chat-assistant", "openai", "gpt-4o",
                arms=(Arm(m("openai/gpt-4o")),), rate_per_day=2400, stream_share=0.9,
                tool_share=0.15, eval_share=0.05, max_tokens=1024),
        KeySpec("ide-backend", "autocomplete", "openai", "gpt-4o-mini",
                arms=(Arm(m("openai/gpt-4o-mini")),), rate_per_day=3000, traffic="azure-code",
                stream_share=1.0, eval_share=0.0, max_tokens=256, chars_per_token=3.3,
                peak_hour=14.0),
        KeySpec("ide-backend", "code-review", "openai", "gpt-4o",
                arms=(Arm(m("openai/gpt-4o")),), rate_per_day=600, traffic="azure-code",
                stream_share=0.0, tool_share=0.3, eval_share=0.1, max_tokens=2048,
                chars_per_token=3.3, peak_hour=14.0),
        KeySpec("search", "summarize", "openai", "gpt-4-turbo",
                arms=(Arm(m("openai/gpt-4-turbo")),), rate_per_day=400, stream_share=0.5,
                max_tokens=512),
        KeySpec("batch-jobs", "classify", "openai", "gpt-3.5-turbo",
                arms=(Arm(m("openai/gpt-3.5-turbo")),), rate_per_day=250, stream_share=0.0,
                eval_share=0.02, max_tokens=64, peak_hour=3.0),
        KeySpec("docs-bot", "answer", "gcp.gemini", "gemini-1.5-pro",
                arms=(Arm(m("gcp.gemini/gemini-1.5-pro")),), rate_per_day=900,
                server_address="generativelanguage.googleapis.com", stream_share=0.7),
        KeySpec("analytics", "report-writer", "together_ai", TOGETHER_LLAMA_70B,
                arms=(Arm(m("together_ai/llama-2-70b"), reported_model=TOGETHER_LLAMA_70B),),
                rate_per_day=500, server_address="api.together.xyz", stream_share=0.6,
                max_tokens=512, peak_hour=17.0),
        KeySpec("translate", "translate", "mistral_ai", "mistral-large-2407",
                arms=(Arm(m("mistral_ai/mistral-large-2407")),), rate_per_day=300,
                server_address="api.mistral.ai", stream_share=0.3, max_tokens=1024,
                peak_hour=10.0),
    ]


def _change_at(rng: random.Random, days: float) -> float:
    """A change time with a day of traffic or more after it (short runs: half before it)."""
    return max(0.5 * days, days - 1.25) * DAY - rng.uniform(0.0, 6.0 * HOUR)


def _fingerprints(name: str, shares: tuple[float, ...] = (0.7, 0.3)) -> tuple[
        tuple[str, float], ...]:
    return tuple(
        ("fp_" + hashlib.sha256(f"{name}/{i}".encode()).hexdigest()[:10], share)
        for i, share in enumerate(shares)
    )


@dataclass(frozen=True)
class Setting:
    """What a builder gets: the variant, the seed's generator, the length, the profiles."""

    variant: str
    seed: int
    rng: random.Random
    days: float
    catalog: ProfileCatalog

    def scenario(self, name: str, description: str, keys: list[KeySpec],
                 **events: object) -> Scenario:
        return Scenario(name=name, variant=self.variant, seed=self.seed,
                        description=description, keys=tuple(keys), days=self.days,
                        **events)  # type: ignore[arg-type]


def silent_downgrade(s: Setting) -> Scenario:
    pairs = {
        "gpt-4o>gpt-4o-mini": (CHAT, "openai/gpt-4o-mini"),
        "gpt-4-turbo>gpt-3.5-turbo": (SUMMARIZE, "openai/gpt-3.5-turbo"),
        "gemini-1.5-pro>gemini-1.5-flash": (ANSWER, "gcp.gemini/gemini-1.5-flash"),
    }
    key_name, smaller = pairs[s.variant]
    keys = fleet(s.catalog)
    key = next(k for k in keys if k.name == key_name)
    shown = key.arms[0].profile.served_model
    change = ServingChange(
        key=key_name, at_s=_change_at(s.rng, s.days),
        arms=(Arm(s.catalog.model(smaller), reported_model=shown),), kind="silent-downgrade",
        note=f"served {smaller}, response.model still {shown}",
    )
    return s.scenario("silent-downgrade", "a larger model replaced by a smaller one", keys,
                      changes=(change,))


def honest_failover(s: Setting) -> Scenario:
    share = {"5%": 0.05, "30%": 0.3, "100%": 1.0}[s.variant]
    c = s.catalog
    change = ServingChange(
        key=CHAT, at_s=_change_at(s.rng, s.days),
        arms=(Arm(c.model("openai/gpt-4o"), 1 - share), Arm(c.model("openai/gpt-4-turbo"), share)),
        kind="honest-failover",
        note=f"{share:.0%} served by gpt-4-turbo; response.model shows it",
    )
    return s.scenario("honest-failover", "a share served by another model line, visibly",
                      fleet(c), changes=(change,))


def _router_key(c: ProfileCatalog, cheap_share: float) -> KeySpec:
    return KeySpec(
        "assistant-gw", "smart-compose", "openrouter", "openrouter/auto",
        arms=(Arm(c.model("openai/gpt-4o"), 1 - cheap_share, "openai/gpt-4o-2024-08-06"),
              Arm(c.model("openai/gpt-4o-mini"), cheap_share, "openai/gpt-4o-mini-2024-07-18")),
        rate_per_day=1800, server_address="openrouter.ai", stream_share=0.8, eval_share=0.05,
        max_tokens=512,
    )


def router_drift(s: Setting) -> Scenario:
    before, after = (int(x) / 100 for x in s.variant.split(">"))
    c = s.catalog
    key = _router_key(c, before)
    target = _router_key(c, after)
    change = ServingChange(
        key=key.name, at_s=_change_at(s.rng, s.days) - 6 * HOUR, arms=target.arms,
        kind="router-drift", ramp_s=6 * HOUR,
        note=f"auto router's cheap-tier share {before:.0%} -> {after:.0%} over 6 h",
    )
    return s.scenario("router-drift", "an auto alias drifts toward the cheap tier",
                      [*fleet(c), key], changes=(change,))


FT_MODEL = "ft:gpt-4o-mini-2024-07-18:acme::9xQ2bLmT"


def finetune_repoint(s: Setting) -> Scenario:
    verbosity, quality = {"small": (0.9, 0.03), "medium": (0.75, 0.06)}[s.variant]
    c = s.catalog
    base = c.model("openai/gpt-4o-mini")
    tuned = base.derive(id="openai/ft-acme", served_model=FT_MODEL, verbosity_factor=verbosity,
                        quality_shift=quality, fingerprints=_fingerprints(FT_MODEL))
    key = KeySpec("support-api", "ticket-triage", "openai", FT_MODEL, arms=(Arm(tuned),),
                  tenant="acme", rate_per_day=900, stream_share=0.0, tool_share=0.2,
                  eval_share=0.2, max_tokens=400, evaluation_name="triage_accuracy")
    change = ServingChange(
        key=key.name, at_s=_change_at(s.rng, s.days), arms=(Arm(base, reported_model=FT_MODEL),),
        kind="finetune-repoint",
        note="acme's fine-tune re-pointed to base gpt-4o-mini; response.model unchanged",
    )
    return s.scenario("finetune-repoint", "a tenant's fine-tune silently served by its base",
                      [*fleet(c), key], changes=(change,))


def _quantized(profile: ModelProfile, variant: str) -> ModelProfile:
    # Published ranges for weight quantization of 70B models on GPUs: FP8 ~1.3x decode,
    # 4-bit AWQ/GPTQ ~1.6-1.8x; small quality loss, more repetition (runs to max_tokens).
    decode, ttft, verbosity, runaway, quality = {
        "fp8": (1.3, 0.9, 1.06, 0.03, -0.015),
        "int4": (1.7, 0.8, 1.15, 0.08, -0.045),
    }[variant]
    return profile.derive(id=f"{profile.id}-{variant}", decode_factor=decode, ttft_factor=ttft,
                          verbosity_factor=verbosity, runaway_rate=runaway,
                          quality_shift=quality)


def quantized_provider(s: Setting) -> Scenario:
    c = s.catalog
    full = c.model("together_ai/llama-2-70b")
    change = ServingChange(
        key=REPORT, at_s=_change_at(s.rng, s.days),
        arms=(Arm(_quantized(full, s.variant), reported_model=TOGETHER_LLAMA_70B),),
        kind="quantized-provider", note=f"host serves a {s.variant} copy under the same name",
    )
    return s.scenario("quantized-provider", "same name, quantized weights", fleet(c),
                      changes=(change,))


GATEWAY_LLAMA = "meta-llama/llama-2-70b-chat"


def provider_variance(s: Setting) -> Scenario:
    c = s.catalog
    hosts = {"together": "together_ai", "fireworks": "fireworks_ai", "anyscale": "anyscale",
             "perplexity": "perplexity", "groq": "groq", "bedrock": "aws.bedrock"}
    old, new = (hosts[h] for h in s.variant.split(">"))
    key = KeySpec("analytics", "insights", "openrouter", GATEWAY_LLAMA,
                  arms=(Arm(c.model(f"{old}/llama-2-70b"), reported_model=GATEWAY_LLAMA),),
                  rate_per_day=1200, server_address="openrouter.ai", stream_share=0.7,
                  max_tokens=512, eval_share=0.05)
    change = ServingChange(
        key=key.name, at_s=_change_at(s.rng, s.days),
        arms=(Arm(c.model(f"{new}/llama-2-70b"), reported_model=GATEWAY_LLAMA),),
        kind="provider-variance", note=f"gateway moved Llama-2 70B from {old} to {new}",
    )
    return s.scenario("provider-variance", "the same open model on another host",
                      [*fleet(c), key], changes=(change,))


def size_swap(s: Setting) -> Scenario:
    c = s.catalog
    host, address = {
        "together": ("together_ai", "api.together.xyz"),
        "anyscale": ("anyscale", "api.endpoints.anyscale.com"),
        "fireworks": ("fireworks_ai", "api.fireworks.ai"),
        "bedrock": ("aws.bedrock", "bedrock-runtime.us-east-1.amazonaws.com"),
    }[s.variant]
    big = c.model(f"{host}/llama-2-70b")
    name = big.served_model
    key = KeySpec("knowledge", "extract", host, name, arms=(Arm(big),), rate_per_day=1000,
                  server_address=address, stream_share=0.5, max_tokens=512,
                  eval_share=0.05)
    change = ServingChange(
        key=key.name, at_s=_change_at(s.rng, s.days),
        arms=(Arm(c.model(f"{host}/llama-2-13b"), reported_model=name),), kind="size-swap",
        note=f"{host} serves Llama-2 13B under its 70B id",
    )
    return s.scenario("size-swap", "the same host serves 13B instead of 70B",
                      [*fleet(c), key], changes=(change,))


def eval_vs_prod(s: Setting) -> Scenario:
    c = s.catalog
    gpt4o, mini = c.model("openai/gpt-4o"), c.model("openai/gpt-4o-mini")
    shown = gpt4o.served_model
    env_fields = ("surface", "request_model", "environment")
    keys = [replace(k, truth_fields=env_fields) if k.name == CHAT else k for k in fleet(c)]
    eval_key = KeySpec("support-api", "chat-assistant", "openai", "gpt-4o", arms=(Arm(gpt4o),),
                       environment="eval", rate_per_day=300, stream_share=0.0, eval_share=1.0,
                       truth_fields=env_fields, peak_hour=2.0)
    changes: tuple[ServingChange, ...] = ()
    if s.variant == "from-start":
        keys = [replace(k, arms=(Arm(mini, reported_model=shown),)) if k.name == CHAT else k
                for k in keys]
        since = 0.0
    else:
        since = _change_at(s.rng, s.days)
        changes = (ServingChange(
            key=CHAT, at_s=since, arms=(Arm(mini, reported_model=shown),),
            kind="eval-vs-prod", note="prod re-pointed to gpt-4o-mini; eval still gets gpt-4o",
        ),)
    divergence = Divergence("gpt-4o", ("prod", "eval"), since,
                            note="prod gets gpt-4o-mini behind gpt-4o, eval gets gpt-4o")
    return s.scenario("eval-vs-prod", "prod and eval get different artifacts for one id",
                      [*keys, eval_key], changes=changes, divergences=(divergence,))


def traffic_mix(s: Setting) -> Scenario:
    key = {"chat-2x": CHAT, "summarize-2x": SUMMARIZE, "code-review-2x": CODE_REVIEW}[s.variant]
    growth = PromptGrowth(key=key, at_s=_change_at(s.rng, s.days), factor=2.0)
    return s.scenario("traffic-mix", "prompts on one surface get twice as long",
                      fleet(s.catalog), prompt_growth=(growth,))


def provider_incident(s: Setting) -> Scenario:
    errors = {"openai-2x": 1.0, "openai-2x-errors": 8.0}[s.variant]
    incident = ProviderIncident("openai", at_s=_change_at(s.rng, s.days), duration_s=40 * 60,
                                slowdown=2.0, error_factor=errors)
    return s.scenario("provider-incident", "every OpenAI model 2x slower for 40 minutes",
                      fleet(s.catalog), incidents=(incident,))


def stationary_month(s: Setting) -> Scenario:
    c = s.catalog
    keys = [
        *fleet(c),
        KeySpec("mobile-app", "smart-reply", "openai", "gpt-4o-mini",
                arms=(Arm(c.model("openai/gpt-4o-mini")),), rate_per_day=1500,
                stream_share=0.0, max_tokens=128, eval_share=0.01, peak_hour=19.0),
        KeySpec("voice-agent", "intent", "groq", "llama-3.1-70b-versatile",
                arms=(Arm(c.model("groq/llama-3.1-70b-versatile")),), rate_per_day=700,
                server_address="api.groq.com", stream_share=1.0, max_tokens=256,
                tool_share=0.4),
    ]
    changes: tuple[ServingChange, ...] = ()
    if s.variant == "fingerprint-rotation":
        # OpenAI rolls a backend config update: gpt-4o's fingerprints change on every key.
        gpt4o = c.model("openai/gpt-4o")
        rotated = gpt4o.derive(fingerprints=_fingerprints(f"rotated/{s.seed}", (0.8, 0.2)))
        at = s.rng.uniform(0.3, 0.7) * s.days * DAY
        changes = tuple(
            ServingChange(key=name, at_s=at, arms=(Arm(rotated),), kind="fingerprint-rotation",
                          note="provider-wide fingerprint rotation, same weights",
                          truth="benign")
            for name in (CHAT, CODE_REVIEW)
        )
    return s.scenario("stationary-month", "a month of unchanged traffic, daily cycles", keys,
                      changes=changes)


@dataclass(frozen=True)
class ScenarioSpec:
    name: str
    must: str
    build: Callable[[Setting], Scenario]
    variants: tuple[str, ...]
    days: float = 3.0
    benign: bool = False


SUITE: dict[str, ScenarioSpec] = {spec.name: spec for spec in (
    ScenarioSpec("silent-downgrade", "catch", silent_downgrade,
                 ("gpt-4o>gpt-4o-mini", "gpt-4-turbo>gpt-3.5-turbo",
                  "gemini-1.5-pro>gemini-1.5-flash")),
    ScenarioSpec("honest-failover", "catch (identity)", honest_failover, ("5%", "30%", "100%")),
    ScenarioSpec("router-drift", "catch (model_share)", router_drift,
                 ("10>25", "10>40", "20>70")),
    ScenarioSpec("finetune-repoint", "catch", finetune_repoint, ("small", "medium")),
    ScenarioSpec("quantized-provider", "catch", quantized_provider, ("fp8", "int4")),
    ScenarioSpec("provider-variance", "catch", provider_variance,
                 ("together>fireworks", "anyscale>perplexity", "groq>together",
                  "fireworks>bedrock")),
    ScenarioSpec("size-swap", "catch", size_swap, ("together", "anyscale", "fireworks",
                                                   "bedrock")),
    ScenarioSpec("eval-vs-prod", "report the divergence", eval_vs_prod,
                 ("from-start", "prod-repointed")),
    ScenarioSpec("traffic-mix", "no alert", traffic_mix,
                 ("chat-2x", "summarize-2x", "code-review-2x"), benign=True),
    ScenarioSpec("provider-incident", "incident, no swap", provider_incident,
                 ("openai-2x", "openai-2x-errors"), benign=True),
    ScenarioSpec("stationary-month", "no alert", stationary_month,
                 ("plain", "fingerprint-rotation"), days=30.0, benign=True),
)}


def build_scenario(
    name: str,
    variant: str | None = None,
    seed: int = 0,
    days: float | None = None,
    catalog: ProfileCatalog | None = None,
    rate_scale: float = 1.0,
) -> Scenario:
    """The scenario ``name`` (first variant unless given) for ``seed``, ``days`` long;
    ``rate_scale`` multiplies every key's traffic (smaller runs for tests)."""
    try:
        spec = SUITE[name]
    except KeyError:
        raise KeyError(f"no scenario {name!r}; known: {', '.join(SUITE)}") from None
    chosen = variant or spec.variants[0]
    if chosen not in spec.variants:
        raise KeyError(f"scenario {name} has no variant {chosen!r}; "
                       f"known: {', '.join(spec.variants)}")
    length = spec.days if days is None else days
    if length < 1.5:
        raise ValueError("a scenario needs at least 1.5 days (a baseline and a day after)")
    if rate_scale <= 0:
        raise ValueError("rate_scale must be positive")
    rng = random.Random(f"{name}/{chosen}/{seed}")
    scenario = spec.build(Setting(chosen, seed, rng, length, catalog or load_catalog()))
    if rate_scale != 1.0:
        keys = tuple(replace(k, rate_per_day=k.rate_per_day * rate_scale) for k in scenario.keys)
        scenario = replace(scenario, keys=keys)
    return scenario
