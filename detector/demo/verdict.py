"""The demo's verdict: which scripted changes were caught, how late, and what was wrongly said.

The benchmark's rules (``docs/benchmark.md``), applied to one run: a swap is **caught** by a
``swap`` or ``identity`` alert on its surface detected at or after the change; its delay is
the calls of that surface between the change and the alert (and the simulated time). Every
other ``swap``/``identity`` alert is a **false alarm**. An incident is **reported** by an
``incident`` alert for its provider detected after it began; incidents are never false alarms.
A pure function of its inputs, so it is tested with tables.

>>> from datetime import datetime, timezone
>>> from swapwatch.detector.alerts.alert import Alert, AlertKey
>>> def at(s): return datetime.fromtimestamp(s, tz=timezone.utc)
>>> swap = Alert(kind="swap", key=AlertKey(surface="qa", provider="openai"),
...              detected_at=at(130), changed_at=at(101), summary="3 signals")
>>> v = judge([ExpectedSwap("qa", "gpt-4-turbo", 100 * 10**9)], [], [swap],
...           calls_between=lambda surface, a, b: 180, speed=30.0)
>>> v.passed, v.swaps[0].requests_after, v.swaps[0].simulated_delay_s
(True, 180, 900.0)
>>> v.lines()[0]
'CAUGHT   swap on qa (gpt-4-turbo): 180 requests, 15 simulated minutes after the change'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from swapwatch.detector.alerts.alert import Alert

SWAP_KINDS = ("swap", "identity")


@dataclass(frozen=True)
class ExpectedSwap:
    surface: str
    request_model: str
    at_ns: int  # when the provider started serving the other model (event time)


@dataclass(frozen=True)
class ExpectedIncident:
    provider: str
    start_ns: int
    end_ns: int
    surfaces: tuple[str, ...] = ()  # the provider's keys: a swap on any is a false alarm


@dataclass(frozen=True)
class SwapOutcome:
    expected: ExpectedSwap
    alert: Alert | None
    requests_after: int | None = None
    simulated_delay_s: float | None = None


@dataclass(frozen=True)
class IncidentOutcome:
    expected: ExpectedIncident
    alert: Alert | None
    swaps_on_provider: tuple[Alert, ...] = ()


@dataclass(frozen=True)
class DemoVerdict:
    swaps: tuple[SwapOutcome, ...]
    incidents: tuple[IncidentOutcome, ...]
    false_alarms: tuple[Alert, ...]
    other_incidents: tuple[Alert, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return (all(s.alert is not None for s in self.swaps)
                and all(i.alert is not None for i in self.incidents)
                and not self.false_alarms)

    def lines(self) -> list[str]:
        out = []
        for s in self.swaps:
            what = f"swap on {s.expected.surface} ({s.expected.request_model})"
            if s.alert is None:
                out.append(f"MISSED   {what}: no swap alert")
            else:
                out.append(f"CAUGHT   {what}: {s.requests_after} requests, "
                           f"{_simulated(s.simulated_delay_s or 0.0)} after the change")
        for i in self.incidents:
            what = f"{i.expected.provider} slowdown"
            if i.alert is None:
                out.append(f"MISSED   {what}: no incident alert")
            else:
                out.append(f"REPORTED {what} as an incident ({i.alert.summary}), not as a swap")
        for alert in self.false_alarms:
            out.append(f"FALSE    {alert.kind} alert on {alert.key.surface or alert.key.slug()}: "
                       f"{alert.summary}")
        if not self.false_alarms:
            out.append("QUIET    no false alarm: no swap alert on any other key")
        for alert in self.other_incidents:
            out.append(f"ALSO     incident: {alert.summary}")
        return out


def _simulated(seconds: float) -> str:
    """How long, in simulated time, in the unit a reader expects.

    >>> _simulated(95.0), _simulated(900.0)
    ('95 simulated seconds', '15 simulated minutes')
    """
    if seconds < 120:
        return f"{seconds:.0f} simulated seconds"
    return f"{seconds / 60:.0f} simulated minutes"


def _firing(alerts: Sequence[Alert], kinds: Sequence[str]) -> list[Alert]:
    return sorted((a for a in alerts if a.kind in kinds and a.status == "firing"),
                  key=lambda a: a.detected_at)


def judge(swaps: Sequence[ExpectedSwap], incidents: Sequence[ExpectedIncident],
          alerts: Sequence[Alert], calls_between: Callable[[str, int, int], int],
          speed: float) -> DemoVerdict:
    """Match ``alerts`` to the scripted changes (see the module docstring)."""
    swap_alerts = _firing(alerts, SWAP_KINDS)
    used: set[int] = set()
    swap_outcomes = []
    for expected in swaps:
        match = next((a for a in swap_alerts if id(a) not in used
                      and a.key.surface == expected.surface
                      and a.detected_at.timestamp() * 1e9 >= expected.at_ns), None)
        if match is None:
            swap_outcomes.append(SwapOutcome(expected, None))
            continue
        used.add(id(match))
        detected_ns = int(match.detected_at.timestamp() * 1e9)
        swap_outcomes.append(SwapOutcome(
            expected, match, calls_between(expected.surface, expected.at_ns, detected_ns),
            (detected_ns - expected.at_ns) / 1e9 * speed))
    # a second alert on a caught key after its change is about that change, not a new alarm
    caught = {s.expected.surface: s.expected.at_ns for s in swap_outcomes if s.alert is not None}
    false_alarms = tuple(a for a in swap_alerts if id(a) not in used and not (
        a.key.surface in caught and a.detected_at.timestamp() * 1e9 >= caught[a.key.surface]))
    incident_alerts = _firing(alerts, ("incident",))
    matched: set[int] = set()
    incident_outcomes = []
    for inc in incidents:
        match = next((a for a in incident_alerts if a.key.provider == inc.provider
                      and a.detected_at.timestamp() * 1e9 >= inc.start_ns), None)
        if match is not None:
            matched.add(id(match))
        on_provider = tuple(a for a in false_alarms if a.key.surface in inc.surfaces)
        incident_outcomes.append(IncidentOutcome(inc, match, on_provider))
    others = tuple(a for a in incident_alerts if id(a) not in matched)
    return DemoVerdict(tuple(swap_outcomes), tuple(incident_outcomes), false_alarms, others)
