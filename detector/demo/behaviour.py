"""The provider side of the demo: a compressed clock, and the scenario as a ``Behaviour``.

Time in the demo: the story spans ``duration × speed`` simulated seconds played in
``duration`` real ones. The simulated provider sleeps ``simulated seconds / speed``
(:class:`~swapwatch.detector.simulator.provider.ProviderServer`'s own convention), and its
behaviour sees :class:`CompressedClock` time, which runs ``speed`` times faster than the wall
clock; so the swap and the incident happen at their simulated times, and every duration a span
measures is the simulated one divided by ``speed``. Relative changes (2× slower, 4× faster
decoding) survive unchanged, and so do token counts, fingerprints and served models.

>>> clock = CompressedClock(wall_start=100.0, sim_start=1000.0, speed=60.0, wall=lambda: 101.5)
>>> clock()
1090.0
>>> clock.wall_at(1090.0)
101.5
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from swapwatch.detector.demo.scenario import DemoScenario, demo_profile
from swapwatch.detector.simulator.behaviour import Behaviour, Reply, Request
from swapwatch.detector.simulator.profile_behaviour import ProfileBehaviour, Swap
from swapwatch.detector.simulator.profiles import ProfileCatalog, load_catalog
from swapwatch.detector.simulator.scenario import Arm


class CompressedClock:
    """Simulated unix seconds: ``sim_start`` at ``wall_start``, then ``speed`` times faster."""

    def __init__(self, wall_start: float, sim_start: float, speed: float,
                 wall: Callable[[], float] = time.time) -> None:
        self.wall_start = wall_start
        self.sim_start = sim_start
        self.speed = speed
        self._wall = wall

    def __call__(self) -> float:
        return self.sim_start + (self._wall() - self.wall_start) * self.speed

    def wall_at(self, sim_s: float) -> float:
        """The wall time at which simulated time ``sim_s`` comes."""
        return self.wall_start + (sim_s - self.sim_start) / self.speed


@dataclass(frozen=True)
class Slowdown:
    """Requests to ``api`` arriving in [``start``, ``end``) simulated seconds are slower."""

    api: str
    start: float
    end: float
    factor: float


class IncidentBehaviour:
    """Wraps a behaviour: during a :class:`Slowdown` of the request's API (its provider), the
    time to first token is ``factor`` times longer and decoding ``factor`` times slower.

    >>> from swapwatch.detector.simulator.behaviour import FixedBehaviour
    >>> b = IncidentBehaviour(FixedBehaviour(), [Slowdown("anthropic", 10.0, 20.0, 2.0)])
    >>> def ask(api, now):
    ...     r = b.reply(Request(api=api, request_model="m", prompt_tokens=1, prompt_chars=4,
    ...                         max_tokens=None, stream=False, tools=False, headers={}, now=now))
    ...     return r.ttft_s, r.decode_tokens_per_s
    >>> ask("anthropic", 5.0), ask("anthropic", 15.0), ask("openai", 15.0)
    ((0.35, 60.0), (0.7, 30.0), (0.35, 60.0))
    """

    def __init__(self, inner: Behaviour, slowdowns: Sequence[Slowdown]) -> None:
        self.inner = inner
        self.slowdowns = tuple(slowdowns)

    def reply(self, request: Request) -> Reply:
        reply = self.inner.reply(request)
        for s in self.slowdowns:
            if s.api == request.api and s.start <= request.now < s.end:
                return replace(reply, ttft_s=reply.ttft_s * s.factor,
                               decode_tokens_per_s=reply.decode_tokens_per_s / s.factor)
        return reply


@dataclass(frozen=True)
class Timeline:
    """Where the run's fractions fall in simulated time."""

    sim_start: float
    sim_span_s: float

    def at(self, fraction: float) -> float:
        return self.sim_start + fraction * self.sim_span_s

    def fraction(self, sim_s: float) -> float:
        return (sim_s - self.sim_start) / self.sim_span_s if self.sim_span_s else 0.0


def peak_hours(timeline: Timeline, providers: Sequence[str]) -> Mapping[str, float]:
    """Every provider at its daily peak in the middle of the run: the daily load cycle then
    moves timing by well under 1% over a run of an hour or two (the demo is not about it)."""
    middle = timeline.at(0.5)
    hour = (middle % 86400.0) / 3600.0
    return {p: hour for p in providers}


def scenario_behaviour(scenario: DemoScenario, timeline: Timeline, seed: int,
                       catalog: ProfileCatalog | None = None) -> Behaviour:
    """What the simulated provider answers for ``scenario`` laid out on ``timeline``."""
    catalog = catalog or load_catalog()
    models = {k.request_model: (Arm(demo_profile(catalog, k.profile)),) for k in scenario.keys}
    swaps = [Swap(at=timeline.at(s.at), request_model=scenario.key(s.surface).request_model,
                  arms=(Arm(demo_profile(catalog, s.profile), reported_model=s.shown_model),))
             for s in scenario.swaps]
    providers = sorted({k.provider for k in scenario.keys} | {
        demo_profile(catalog, k.profile).provider for k in scenario.keys})
    inner = ProfileBehaviour(models, swaps=swaps, seed=seed, catalog=catalog,
                             provider_peak_hours=peak_hours(timeline, providers))
    slowdowns = [Slowdown(i.provider, timeline.at(i.start), timeline.at(i.end), i.slowdown)
                 for i in scenario.incidents]
    return IncidentBehaviour(inner, slowdowns) if slowdowns else inner
