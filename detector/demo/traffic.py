"""What each simulated service sends, and when: a seeded plan, decided before the run.

Calls of a key are spread evenly over the run (one per slot, at a random point inside it), so
every key has its share of calls before and after each scripted event whatever the machine's
load; prompt lengths follow the Azure conversation trace (capped), as in the benchmark.

>>> from swapwatch.detector.demo.scenario import SCENARIOS
>>> plans = plan_traffic(SCENARIOS["quiet"], total_calls=1000, duration_s=60.0, seed=1)
>>> [p.service for p in plans], sum(len(c.calls) for p in plans for c in p.keys)
(['shop', 'search', 'support'], 1000)
>>> calls = plans[0].keys[0].calls
>>> all(0 <= c.offset_s < 60 for c in calls), calls == plan_traffic(
...     SCENARIOS["quiet"], 1000, 60.0, seed=1)[0].keys[0].calls
(True, True)
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

from swapwatch.detector.demo.scenario import DemoKey, DemoScenario
from swapwatch.detector.simulator.profiles import TrafficShape, load_catalog

MAX_PROMPT_WORDS = 3000  # the trace's long tail would only cost bytes, not realism
MIN_CALLS_PER_KEY = 1


@dataclass(frozen=True)
class PlannedCall:
    offset_s: float  # after the run's start, real seconds
    prompt_words: int
    seed: int
    stream: bool


@dataclass(frozen=True)
class KeyPlan:
    surface: str
    api: str
    request_model: str
    max_tokens: int
    calls: tuple[PlannedCall, ...]


@dataclass(frozen=True)
class ServicePlan:
    """Everything one service process needs (JSON-serialisable with :meth:`to_json`)."""

    service: str
    keys: tuple[KeyPlan, ...]
    workers: int = 16
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServicePlan:
        keys = tuple(KeyPlan(**{**k, "calls": tuple(PlannedCall(**c) for c in k["calls"])})
                     for k in data["keys"])
        return cls(service=data["service"], keys=keys, workers=data.get("workers", 16),
                   extra=dict(data.get("extra", {})))


def key_calls(key: DemoKey, n: int, duration_s: float, shape: TrafficShape,
              rng: random.Random) -> tuple[PlannedCall, ...]:
    slot = duration_s / n
    calls = []
    for i in range(n):
        prompt_tokens, _ = shape.lengths(rng.random(), rng.random())
        calls.append(PlannedCall(offset_s=(i + rng.random()) * slot,
                                 prompt_words=min(prompt_tokens, MAX_PROMPT_WORDS),
                                 seed=rng.getrandbits(48),
                                 stream=rng.random() < key.stream_share))
    return tuple(calls)


def plan_traffic(scenario: DemoScenario, total_calls: int, duration_s: float, seed: int,
                 workers: int = 16) -> list[ServicePlan]:
    """One plan per service of ``scenario``; ``total_calls`` split by the keys' shares."""
    shape = load_catalog().traffic["azure-conv"]
    total_share = sum(k.share for k in scenario.keys)
    plans = []
    for service in scenario.services():
        keys = []
        for key in scenario.keys:
            if key.service != service:
                continue
            rng = random.Random(f"{seed}/{key.service}/{key.surface}")
            n = max(MIN_CALLS_PER_KEY, round(total_calls * key.share / total_share))
            keys.append(KeyPlan(key.surface, key.api, key.request_model, key.max_tokens,
                                key_calls(key, n, duration_s, shape, rng)))
        plans.append(ServicePlan(service, tuple(keys), workers))
    # rounding may leave the total a call or two off: the first key absorbs it
    planned = sum(len(k.calls) for p in plans for k in p.keys)
    if planned != total_calls and plans and plans[0].keys:
        first = plans[0].keys[0]
        n = len(first.calls) + total_calls - planned
        rng = random.Random(f"{seed}/{scenario.keys[0].service}/{first.surface}")
        fixed = KeyPlan(first.surface, first.api, first.request_model, first.max_tokens,
                        key_calls(scenario.key(first.surface), n, duration_s, shape, rng))
        plans[0] = ServicePlan(plans[0].service, (fixed, *plans[0].keys[1:]), workers)
    return plans
