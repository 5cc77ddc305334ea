"""The ground truth of a generated scenario (``truth.json``), measured from the calls it wrote.

Besides what ``docs/benchmark.md`` requires (``changes`` with ``at``/``key``/``kind``/``note``,
``benign`` with ``from``/``to``/``kind``), each change carries what the scorer needs to count a
delay in requests without the spans (``arrivals_after_s``: offsets of that key's requests in
the day after the change) and how much each signal really moved in the generated calls
(``signals``: relative change of medians/means, or total variation distance for shares), so
"swaps that move three or more signals by 20% or more" is a fact of the data, not a claim.
Divergences (eval vs prod) are listed apart and scored apart.

>>> from swapwatch.detector.calls import LlmCall
>>> def c(t, model, out):
...     return LlmCall(start_ns=t, end_ns=t + 2_000_000_000, response_model=model,
...                    output_tokens=out, input_tokens=100, prompt_chars=400,
...                    finish_reasons=("stop",))
>>> shifts = signal_shifts([c(0, "a", 100)] * 4, [c(0, "b", 50)] * 4)
>>> shifts["model_share"], shifts["output_tokens"], shifts["tokenizer"]
(1.0, -0.5, 0.0)
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from swapwatch.detector.calls import LlmCall
from swapwatch.detector.ingest.pricing import call_cost_usd
from swapwatch.detector.simulator.generate import EVENT_WINDOW_S, GeneratedRun
from swapwatch.detector.simulator.scenario import Scenario

TRUTH_FORMAT = 1
# A signal "moved" when its relative change (or share distance) is at least this much;
# error rates move when their absolute difference is at least MOVED_ERRORS.
MOVED = 0.2
MOVED_ERRORS = 0.02
GOAL_SIGNALS = 3


def iso(t_s: float) -> str:
    """Unix seconds as RFC 3339 UTC with millisecond precision and a ``Z``."""
    stamp = datetime.fromtimestamp(t_s, tz=UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _median(values: Iterable[float | None]) -> float | None:
    data = [v for v in values if v is not None]
    return statistics.median(data) if data else None


def _mean(values: Iterable[float | None]) -> float | None:
    data = [v for v in values if v is not None]
    return statistics.fmean(data) if data else None


def _relative(before: float | None, after: float | None) -> float | None:
    if before is None or after is None or before == 0:
        return None
    return round(after / before - 1.0, 4)


def _distance(before: Iterable[object], after: Iterable[object]) -> float | None:
    """Total variation distance between two categorical samples (0 same, 1 disjoint)."""
    a, b = Counter(before), Counter(after)
    na, nb = sum(a.values()), sum(b.values())
    if not na or not nb:
        return None
    return round(0.5 * sum(abs(a[k] / na - b[k] / nb) for k in set(a) | set(b)), 4)


def _cost(call: LlmCall) -> float | None:
    return call_cost_usd(call.provider, call.response_model, call.input_tokens,
                         call.output_tokens, at_ns=call.start_ns)


def signal_shifts(before: list[LlmCall], after: list[LlmCall]) -> dict[str, float | None]:
    """How each detector signal differs between two sets of one key's calls."""
    ok_b = [c for c in before if not c.is_error]
    ok_a = [c for c in after if not c.is_error]

    def rel(stat: Callable[[Iterable[float | None]], float | None],
            get: Callable[[LlmCall], float | None]) -> float | None:
        return _relative(stat(get(c) for c in ok_b), stat(get(c) for c in ok_a))

    def ratio(c: LlmCall) -> float | None:
        return c.input_tokens / c.prompt_chars if c.input_tokens and c.prompt_chars else None

    def quality(c: LlmCall) -> float | None:
        return next(iter(c.evaluations.values()), None)

    err_b = sum(c.is_error for c in before) / len(before) if before else None
    err_a = sum(c.is_error for c in after) / len(after) if after else None
    return {
        "model_share": _distance((c.response_model for c in ok_b),
                                 (c.response_model for c in ok_a)),
        "fingerprint": _distance((c.system_fingerprint for c in ok_b),
                                 (c.system_fingerprint for c in ok_a)),
        "latency": rel(_median, lambda c: c.duration_s),
        "ttft": rel(_median, lambda c: c.time_to_first_chunk_s),
        "decode_rate": rel(_median, lambda c: c.decode_rate),
        "output_tokens": rel(_median, lambda c: c.output_tokens),
        "tokenizer": rel(_median, ratio),
        "cost": rel(_mean, _cost),
        "finish_reason": _distance((c.finish_reasons for c in ok_b),
                                   (c.finish_reasons for c in ok_a)),
        "errors": None if err_b is None or err_a is None else round(err_a - err_b, 4),
        "quality": rel(_mean, quality),
    }


def moved_signals(shifts: dict[str, float | None]) -> list[str]:
    """Signals that moved by at least MOVED (MOVED_ERRORS for the error rate)."""
    out = []
    for name, value in shifts.items():
        if value is None:
            continue
        limit = MOVED_ERRORS if name == "errors" else MOVED
        if abs(value) >= limit:
            out.append(name)
    return out


def _window(calls: list[LlmCall], lo_s: float, hi_s: float) -> list[LlmCall]:
    lo, hi = int(lo_s * 1e9), int(hi_s * 1e9)
    return [c for c in calls if lo <= c.start_ns < hi]


def build_truth(scenario: Scenario, run: GeneratedRun, dialect: str) -> dict[str, Any]:
    """The ``truth.json`` document of one generated scenario."""
    start = scenario.start_s
    changes, benign = [], []
    for change in scenario.changes:
        key = scenario.key(change.key)
        at = start + change.at_s
        settled = at + change.ramp_s
        calls = run.event_calls.get(change.key, [])
        shifts = signal_shifts(_window(calls, at - EVENT_WINDOW_S, at),
                               _window(calls, settled, settled + EVENT_WINDOW_S))
        if change.truth == "benign":
            benign.append({"from": iso(at), "to": iso(at), "kind": change.kind,
                           "key": key.truth_key(), "note": change.note, "signals": shifts})
            continue
        offsets = run.arrivals.get(change.key)
        after = [] if offsets is None else [
            round(float(o) - change.at_s, 3) for o in offsets
            if change.at_s < o <= change.at_s + EVENT_WINDOW_S
        ]
        moved = moved_signals(shifts)
        changes.append({
            "at": iso(at), "key": key.truth_key(), "kind": change.kind, "note": change.note,
            "ramp_s": change.ramp_s, "signals": shifts, "moved": moved,
            "goal": len(moved) >= GOAL_SIGNALS,
            "arrivals_after_s": after,
        })
    for incident in scenario.incidents:
        benign.append({
            "from": iso(start + incident.at_s),
            "to": iso(start + incident.at_s + incident.duration_s),
            "kind": incident.kind, "provider": incident.provider,
            "note": f"every {incident.provider} model {incident.slowdown:g}x slower",
        })
    for growth in scenario.prompt_growth:
        key = scenario.key(growth.key)
        at = start + growth.at_s
        calls = run.event_calls.get(growth.key, [])
        benign.append({
            "from": iso(at), "to": iso(scenario.end_s), "kind": growth.kind,
            "key": key.truth_key(), "note": f"prompts {growth.factor:g}x longer",
            "signals": signal_shifts(_window(calls, at - EVENT_WINDOW_S, at),
                                     _window(calls, at, at + EVENT_WINDOW_S)),
        })
    divergences = [
        {"from": iso(start + d.from_s), "key": {"request_model": d.request_model},
         "environments": list(d.environments), "kind": d.kind, "note": d.note}
        for d in scenario.divergences
    ]
    return {
        "format": TRUTH_FORMAT,
        "scenario": scenario.name,
        "variant": scenario.variant,
        "seed": scenario.seed,
        "dialect": dialect,
        "description": scenario.description,
        "start": iso(start),
        "end": iso(scenario.end_s),
        "days": scenario.days,
        "keys": [
            {"key": k.full_key(), "requests": run.calls_per_key[k.name],
             "rate_per_day": k.rate_per_day}
            for k in scenario.keys
        ],
        "changes": changes,
        "benign": benign,
        "divergences": divergences,
    }
