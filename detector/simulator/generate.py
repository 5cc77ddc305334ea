"""Run a scenario: every key's arrivals, each request served by its arms, calls in end order.

Generation is direct (no HTTP): arrivals per key from :mod:`.traffic`, one answer per request
from :mod:`.serving`, in global arrival order with one seeded generator, so a seed always gives
the same calls. Calls are handed to ``sink`` in the order their spans end (what an exporter
sees). Calls of keys with events near those events are kept for the ground truth.

>>> from swapwatch.detector.simulator.suite import build_scenario
>>> scenario = build_scenario("silent-downgrade", seed=1, days=2)
>>> calls = []
>>> run = generate(scenario, calls.append)
>>> run.total_calls == len(calls) > 1000
True
>>> all(a.end_ns <= b.end_ns for a, b in zip(calls, calls[1:]))
True
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from swapwatch.detector.calls import LlmCall
from swapwatch.detector.ingest.pricing import call_cost_usd
from swapwatch.detector.simulator.profiles import ProfileCatalog, load_catalog
from swapwatch.detector.simulator.scenario import Arm, KeySpec, Scenario, ServingChange
from swapwatch.detector.simulator.serving import Ask, Conditions, serve
from swapwatch.detector.simulator.traffic import arrivals, provider_load

# How much traffic around each event is kept for measuring what really changed.
EVENT_WINDOW_S = 86400.0
DEFAULT_PROVIDER_PEAK_HOUR = 16.0
PROMPT_CHARS_SIGMA = 0.08


@dataclass
class KeyTimeline:
    """A key's serving over time: arms before any change, then each change (maybe ramped)."""

    initial: tuple[Arm, ...]
    changes: list[ServingChange]

    def arms_at(self, offset_s: float) -> list[tuple[Arm, float]]:
        current: list[tuple[Arm, float]] = [(a, a.share) for a in self.initial]
        for change in self.changes:
            if offset_s < change.at_s:
                break
            new = [(a, a.share) for a in change.arms]
            if change.ramp_s > 0 and offset_s < change.at_s + change.ramp_s:
                frac = (offset_s - change.at_s) / change.ramp_s
                current = [(a, s * (1 - frac)) for a, s in current] + [
                    (a, s * frac) for a, s in new
                ]
            else:
                current = new
        return current


@dataclass
class GeneratedRun:
    """What the ground truth needs from a run: counts, and the calls around each event."""

    total_calls: int = 0
    calls_per_key: dict[str, int] = field(default_factory=dict)
    # key name -> arrival offsets (s) of that key's requests, kept only for keys with events
    arrivals: dict[str, np.ndarray] = field(default_factory=dict)
    # key name -> calls within EVENT_WINDOW_S of one of the key's events
    event_calls: dict[str, list[LlmCall]] = field(default_factory=dict)


def _pick_arm(arms: list[tuple[Arm, float]], u: float) -> Arm:
    total = sum(share for _, share in arms)
    target = u * total
    acc = 0.0
    for arm, share in arms:
        acc += share
        if target < acc:
            return arm
    return arms[-1][0]


def _event_windows(scenario: Scenario) -> dict[str, list[tuple[float, float]]]:
    windows: dict[str, list[tuple[float, float]]] = {}
    for change in scenario.changes:
        windows.setdefault(change.key, []).append(
            (change.at_s - EVENT_WINDOW_S, change.at_s + change.ramp_s + EVENT_WINDOW_S)
        )
    for growth in scenario.prompt_growth:
        windows.setdefault(growth.key, []).append(
            (growth.at_s - EVENT_WINDOW_S, growth.at_s + EVENT_WINDOW_S)
        )
    for divergence in scenario.divergences:
        for key in scenario.keys:
            if key.request_model == divergence.request_model:
                windows.setdefault(key.name, []).append(
                    (divergence.from_s - EVENT_WINDOW_S, divergence.from_s + EVENT_WINDOW_S)
                )
    for incident in scenario.incidents:
        for key in scenario.keys:
            if key.provider == incident.provider:
                windows.setdefault(key.name, []).append(
                    (incident.at_s - 3600.0, incident.at_s + incident.duration_s + 3600.0)
                )
    return windows


class _Requests:
    """Turns one arrival into one call: the per-request draws of a scenario."""

    def __init__(self, scenario: Scenario, catalog: ProfileCatalog, rng: random.Random) -> None:
        self.scenario = scenario
        self.catalog = catalog
        self.rng = rng
        names = [k.name for k in scenario.keys]
        self.timelines = [
            KeyTimeline(k.arms, sorted(
                (c for c in scenario.changes if c.key == name), key=lambda c: c.at_s
            ))
            for k, name in zip(scenario.keys, names, strict=True)
        ]
        growth = {g.key: g for g in scenario.prompt_growth}
        self.growth = [growth.get(name) for name in names]
        self.shapes = [catalog.traffic[k.traffic] for k in scenario.keys]

    def _conditions(self, key: KeySpec, arm: Arm, t_s: float, offset_s: float) -> Conditions:
        provider = arm.profile.provider
        peak = self.scenario.provider_peak_hours.get(provider, DEFAULT_PROVIDER_PEAK_HOUR)
        slowdown, error_factor = 1.0, 1.0
        for incident in self.scenario.incidents:
            if (incident.provider in (key.provider, provider)
                    and incident.at_s <= offset_s < incident.at_s + incident.duration_s):
                slowdown *= incident.slowdown
                error_factor *= incident.error_factor
        return Conditions(load=provider_load(t_s, peak), slowdown=slowdown,
                          error_factor=error_factor)

    def call(self, index: int, key: KeySpec, t_s: float) -> LlmCall:
        rng = self.rng
        offset_s = t_s - self.scenario.start_s
        context, demand = self.shapes[index].lengths(rng.random(), rng.random())
        chars = context * key.chars_per_token * math.exp(rng.gauss(0.0, PROMPT_CHARS_SIGMA))
        growth = self.growth[index]
        if growth is not None and offset_s >= growth.at_s:
            chars *= growth.factor
        ask = Ask(
            prompt_chars=max(1, round(chars)), demand_tokens=demand, max_tokens=key.max_tokens,
            stream=rng.random() < key.stream_share, tools=rng.random() < key.tool_share,
        )
        arm = _pick_arm(self.timelines[index].arms_at(offset_s), rng.random())
        outcome = serve(arm.profile, ask, self._conditions(key, arm, t_s, offset_s),
                        self.catalog.load, rng)
        start_ns = int(t_s * 1e9)
        failed = outcome.error_type is not None
        call = LlmCall(
            start_ns=start_ns,
            end_ns=start_ns + max(1, int(outcome.duration_s * 1e9)),
            trace_id=f"{rng.getrandbits(128):032x}",
            span_id=f"{rng.getrandbits(64):016x}",
            service=key.service,
            environment=key.environment,
            surface=key.surface,
            tenant=key.tenant,
            provider=key.provider,
            server_address=key.server_address,
            operation="chat",
            request_model=key.request_model,
            response_model=None if failed else (arm.reported_model or outcome.served_model),
            response_id=None if failed else f"chatcmpl-{rng.getrandbits(96):024x}",
            input_tokens=outcome.input_tokens,
            output_tokens=outcome.output_tokens,
            finish_reasons=None if failed else (outcome.finish_reason or "stop",),
            system_fingerprint=outcome.system_fingerprint,
            service_tier="default" if key.provider == "openai" and not failed else None,
            time_to_first_chunk_s=outcome.ttft_s if ask.stream and not failed else None,
            streaming=ask.stream,
            prompt_chars=ask.prompt_chars,
            error_type=outcome.error_type,
            is_error=failed,
        )
        if not failed:  # the swapwatch span processor prices each call at the source
            call.cost_usd = call_cost_usd(key.provider, call.response_model, call.input_tokens,
                                          call.output_tokens, at_ns=start_ns)
        if not failed and outcome.quality is not None and rng.random() < key.eval_share:
            call.evaluations[key.evaluation_name] = round(outcome.quality, 4)
        return call


def key_arrivals(scenario: Scenario, catalog: ProfileCatalog) -> list[np.ndarray]:
    """Arrival times (unix seconds) of every key, each from its own seeded generator."""
    out = []
    for index, key in enumerate(scenario.keys):
        rng = np.random.default_rng([scenario.seed, index, 7919])
        out.append(arrivals(
            catalog.traffic[key.traffic], key.rate_per_day, scenario.start_s, scenario.end_s,
            rng, peak_hour=key.peak_hour,
        ))
    return out


def generate(
    scenario: Scenario,
    sink: Callable[[LlmCall], None],
    catalog: ProfileCatalog | None = None,
) -> GeneratedRun:
    """Generate every call of ``scenario``; ``sink`` receives them in span end order."""
    catalog = catalog or load_catalog()
    per_key = key_arrivals(scenario, catalog)
    times = np.concatenate(per_key) if per_key else np.empty(0)
    owners = np.concatenate([np.full(len(a), i) for i, a in enumerate(per_key)]) if per_key \
        else np.empty(0, dtype=int)
    order = np.argsort(times, kind="stable")
    requests = _Requests(scenario, catalog, random.Random(scenario.seed * 1_000_003 + 17))
    windows = _event_windows(scenario)
    run = GeneratedRun()
    start_s = scenario.start_s
    for key, key_times in zip(scenario.keys, per_key, strict=True):
        run.calls_per_key[key.name] = len(key_times)
        if key.name in windows:
            run.arrivals[key.name] = key_times - start_s
            run.event_calls[key.name] = []
    pending: list[tuple[int, int, LlmCall]] = []
    sequence = 0
    keys = scenario.keys
    names = [k.name for k in keys]
    key_windows = [windows.get(name) for name in names]
    for t_s, owner in zip(times[order].tolist(), owners[order].tolist(), strict=True):
        call = requests.call(owner, keys[owner], t_s)
        now_ns = call.start_ns
        while pending and pending[0][0] <= now_ns:
            sink(heapq.heappop(pending)[2])
        heapq.heappush(pending, (call.end_ns, sequence, call))
        sequence += 1
        spans = key_windows[owner]
        if spans:
            offset = t_s - start_s
            if any(lo <= offset < hi for lo, hi in spans):
                run.event_calls[names[owner]].append(call)
    while pending:
        sink(heapq.heappop(pending)[2])
    run.total_calls = sequence
    return run
