"""Typed settings of ``swapwatch demo``, and detection's time settings on the demo's clock.

The demo plays ``duration_s × speed`` simulated seconds in ``duration_s`` real ones (see
:mod:`~swapwatch.detector.demo.behaviour`). Spans keep the real timestamps the OpenTelemetry
SDK gives them, so detection, deciding on span time, sees a world that runs ``speed`` times
faster. :func:`demo_detection` moves detection's settings that are durations onto that
clock (divided by ``speed``); settings counted in calls, shares and relative effects, the
ones that decide, are detection's defaults. One exception: the baseline's entry length,
half an hour of event time so that a baseline spans a day, becomes a twentieth of the run
(a demo has no day to span), so that the baseline fills during the warm-up.

>>> cfg = DemoConfig(duration_s=90, speed=30)
>>> cfg.simulated_s
2700.0
>>> d = demo_detection(DetectionConfig(), cfg)
>>> d.numeric.entry_s, d.correlation.window_s, d.incident.window_s
(4.5, 60.0, 120.0)
>>> (d.correlation.min_signals, d.numeric.block_size) == (3, 16)  # what decides: defaults
True
>>> DemoConfig(scenario="nope")
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for DemoConfig
scenario
  Value error, unknown scenario 'nope'; known: incident, quiet, swap, swap-and-incident ...
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator
from swapwatch.detector.alerts.config import AlertsConfig, JsonlConfig
from swapwatch.detector.demo.scenario import DEFAULT_SCENARIO, SCENARIOS
from swapwatch.detector.detection.config import DetectionConfig

BASELINE_ENTRIES_PER_RUN = 20


class DemoConfig(BaseModel):
    """What ``swapwatch demo`` runs. Defaults: under two minutes, then the report.

    ``speed`` is 4 by default, not more: the durations the spans measure (a real second of
    a reply is a quarter second) must stay long next to the pauses a busy machine adds to any
    process, or the demo would measure the machine instead of the provider. ``calls`` is
    4,800 because a numeric learner fires only after about 512 calls of its key (16 blocks
    under test plus 16 of baseline, 16 calls each), and each key needs that before its event
    and a few hundred after it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    scenario: str = DEFAULT_SCENARIO
    duration_s: float = Field(default=100.0, ge=10.0, le=3600.0,
                              description="Real seconds the traffic lasts.")
    speed: float = Field(default=4.0, ge=1.0, le=1000.0,
                         description="Simulated seconds per real second.")
    calls: int = Field(default=4800, ge=400, le=200_000,
                       description="Calls over the run, shared by the scenario's keys.")
    seed: int = 7
    workers: int = Field(default=200, ge=1, le=1000,
                         description="Calls in flight per service, at most.")
    out_dir: Path = Path("swapwatch-demo")
    kafka: str | None = Field(default=None, description="Bootstrap servers: go through Kafka.")
    live: bool | None = Field(default=None, description="Live terminal view (None: if a TTY).")
    startup_timeout_s: float = Field(default=180.0, gt=0,
                                     description="For the services to import their SDKs.")
    settle_timeout_s: float = Field(default=60.0, gt=0,
                                    description="For the last spans to reach detection.")

    @field_validator("scenario")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in SCENARIOS:
            raise ValueError(f"unknown scenario {value!r}; known: {', '.join(sorted(SCENARIOS))}")
        return value

    @property
    def simulated_s(self) -> float:
        return self.duration_s * self.speed


def demo_detection(base: DetectionConfig, demo: DemoConfig) -> DetectionConfig:
    """``base`` with its durations on the demo's clock (see the module docstring)."""
    s = demo.speed
    entry_s = min(base.numeric.entry_s / s, demo.duration_s / BASELINE_ENTRIES_PER_RUN)
    return base.model_copy(update={
        "numeric": base.numeric.model_copy(update={"entry_s": entry_s}),
        "correlation": base.correlation.model_copy(
            update={"window_s": base.correlation.window_s / s}),
        "incident": base.incident.model_copy(update={"window_s": base.incident.window_s / s}),
        "identity": base.identity.model_copy(
            update={"resolve_after_s": base.identity.resolve_after_s / s}),
        "keys": base.keys.model_copy(update={"idle_evict_s": base.keys.idle_evict_s / s}),
    })


def demo_alerts(base: AlertsConfig, demo: DemoConfig, state_dir: Path) -> AlertsConfig:
    """``base`` writing JSON lines to the run's directory, grouping timers on the demo's clock."""
    route = base.route
    scaled = {name: timedelta(seconds=getattr(route, name).total_seconds() / demo.speed)
              for name in ("group_wait", "group_interval", "repeat_interval")}
    return base.model_copy(update={
        "jsonl": JsonlConfig(path=str(demo.out_dir / "alerts.jsonl")),
        "route": route.model_copy(update=scaled),
        "state_dir": state_dir,
    })
