"""``ProfileBehaviour``: the HTTP simulator answering from real model profiles, with swaps.

Each request model is served by :class:`~.scenario.Arm` s (model profiles with shares); a
:class:`Swap` replaces a model's arms from a simulated time on. Replies draw their timing,
output length, fingerprint and errors from the profiles exactly as the direct generator does
(:func:`~.serving.serve`), so spans recorded through the real SDKs look like ``swapwatch
simulate``'s. Every draw is seeded by the request (prompt hash, time, seed): deterministic,
whatever the order requests arrive in.

>>> from swapwatch.detector.simulator.behaviour import Request
>>> from swapwatch.detector.simulator.profiles import load_catalog
>>> from swapwatch.detector.simulator.scenario import Arm
>>> c = load_catalog()
>>> b = ProfileBehaviour({"gpt-4o": (Arm(c.model("openai/gpt-4o")),)},
...                      swaps=[Swap(at=100.0, request_model="gpt-4o", arms=(
...                          Arm(c.model("openai/gpt-4o-mini"), reported_model="gpt-4o"),))])
>>> def ask(now, model="gpt-4o"):
...     return b.reply(Request(api="openai", request_model=model, prompt_tokens=100,
...                            prompt_chars=400, max_tokens=50, stream=True, tools=False,
...                            headers={}, now=now, prompt_hash=42))
>>> ask(10.0).served_model, ask(200.0).served_model
('gpt-4o-2024-08-06', 'gpt-4o')
>>> ask(10.0).system_fingerprint != ask(200.0).system_fingerprint
True
>>> ask(10.0, model="gpt-9").error_status
404
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from swapwatch.detector.simulator.behaviour import FinishReason, Reply, Request
from swapwatch.detector.simulator.generate import DEFAULT_PROVIDER_PEAK_HOUR, KeyTimeline
from swapwatch.detector.simulator.profiles import ProfileCatalog, load_catalog
from swapwatch.detector.simulator.scenario import Arm, Scenario, ServingChange
from swapwatch.detector.simulator.serving import Ask, Conditions, serve
from swapwatch.detector.simulator.traffic import provider_load

# What each simulated error type is answered with over HTTP.
ERROR_STATUS = {"RateLimitError": 429, "InternalServerError": 500, "APITimeoutError": 503}
_FINISH: dict[str, FinishReason] = {
    "stop": "stop", "length": "length", "tool_calls": "tool_calls",
    "content_filter": "content_filter",
}


@dataclass(frozen=True)
class Swap:
    """From simulated unix time ``at``, ``request_model`` is served by ``arms``."""

    at: float
    request_model: str
    arms: tuple[Arm, ...]


class ProfileBehaviour:
    """Serves each request model from its arms, switching at the scheduled swaps."""

    def __init__(
        self,
        models: Mapping[str, Sequence[Arm]],
        *,
        swaps: Sequence[Swap] = (),
        seed: int = 0,
        catalog: ProfileCatalog | None = None,
        traffic: str = "azure-conv",
        provider_peak_hours: Mapping[str, float] | None = None,
    ) -> None:
        self.catalog = catalog or load_catalog()
        self.seed = seed
        self.traffic = self.catalog.traffic[traffic]
        self.peak_hours = dict(provider_peak_hours or {})
        self._timelines = {
            model: KeyTimeline(tuple(arms), sorted(
                (ServingChange(key=model, at_s=s.at, arms=s.arms, kind="swap", note="")
                 for s in swaps if s.request_model == model), key=lambda c: c.at_s))
            for model, arms in models.items()
        }

    @classmethod
    def for_scenario(cls, scenario: Scenario, catalog: ProfileCatalog | None = None
                     ) -> ProfileBehaviour:
        """The first key of each request model in ``scenario``, with its changes as swaps."""
        models: dict[str, tuple[Arm, ...]] = {}
        swaps = []
        for key in scenario.keys:
            if key.request_model in models:
                continue
            models[key.request_model] = key.arms
            swaps += [Swap(scenario.start_s + c.at_s, key.request_model, c.arms)
                      for c in scenario.changes if c.key == key.name]
        return cls(models, swaps=swaps, seed=scenario.seed, catalog=catalog,
                   provider_peak_hours=scenario.provider_peak_hours)

    def reply(self, request: Request) -> Reply:
        timeline = self._timelines.get(request.request_model)
        if timeline is None:
            return Reply(served_model=request.request_model, system_fingerprint=None,
                         prompt_tokens=0, output_tokens=0, ttft_s=0.0,
                         decode_tokens_per_s=1.0, finish_reason="stop", error_status=404,
                         error_message=f"The model `{request.request_model}` does not exist")
        rng = random.Random(
            (request.prompt_hash * 1_000_003 + int(request.now * 1e6)) ^ (self.seed << 64)
        )
        arms = timeline.arms_at(request.now)
        total = sum(share for _, share in arms)
        pick, acc, arm = rng.random() * total, 0.0, arms[-1][0]
        for candidate, share in arms:
            acc += share
            if pick < acc:
                arm = candidate
                break
        ask = Ask(prompt_chars=request.prompt_chars,
                  demand_tokens=self.traffic.generated_for(request.prompt_tokens, rng.random()),
                  max_tokens=request.max_tokens, stream=request.stream, tools=request.tools)
        peak = self.peak_hours.get(arm.profile.provider, DEFAULT_PROVIDER_PEAK_HOUR)
        outcome = serve(arm.profile, ask, Conditions(load=provider_load(request.now, peak)),
                        self.catalog.load, rng)
        served = arm.reported_model or outcome.served_model
        if outcome.error_type is not None:
            return Reply(served_model=served, system_fingerprint=None, prompt_tokens=0,
                         output_tokens=0, ttft_s=outcome.duration_s, decode_tokens_per_s=1.0,
                         finish_reason="stop", error_status=ERROR_STATUS.get(outcome.error_type,
                                                                             500),
                         retry_after_s=1.0 if outcome.error_type == "RateLimitError" else None,
                         error_message=outcome.error_type)
        return Reply(
            served_model=served,
            system_fingerprint=outcome.system_fingerprint,
            prompt_tokens=outcome.input_tokens or 1,
            output_tokens=outcome.output_tokens or 1,
            ttft_s=outcome.ttft_s,
            decode_tokens_per_s=outcome.decode_tps,
            finish_reason=_FINISH.get(outcome.finish_reason or "stop", "stop"),
            service_tier="default" if request.api == "openai" else "standard",
        )
