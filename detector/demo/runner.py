"""``run_demo``: the whole chain on one machine, wired in one place.

    simulated provider (HTTP, 127.0.0.1)  ◀── services (subprocesses: real openai/anthropic
         │ scripted swap + incident              SDKs, swapwatch.instrumentation)
         │                                              │ OTLP/HTTP
         ▼                                              ▼
                                   swapwatch collect (OtlpReceiver → SpanIntake)
                                          │ in-process SpanQueue  |  Kafka (--kafka)
                                          ▼
                      Pipeline(Detector) → AlertDispatcher (alerts.jsonl)
                                          │
                    live view ◀── LiveState tap ──▶ verdict, summary.json, report.html

Services start first and import their SDKs; the clock starts when all are ready. The run
ends when every service has sent its plan and detection has seen every span; then detection
is flushed (end of input), the verdict is judged against the script, and the report written.
"""

from __future__ import annotations

import contextlib
import json
import logging
import select
import shutil
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from swapwatch.collector.config import CollectorConfig
from swapwatch.collector.filter import SpanRouter
from swapwatch.collector.receiver import OtlpReceiver, SpanIntake, SpanSink
from swapwatch.detector.alerts.alert import Alert
from swapwatch.detector.alerts.dispatcher import AlertDispatcher
from swapwatch.detector.config import SwapwatchConfig
from swapwatch.detector.demo.behaviour import CompressedClock
from swapwatch.detector.demo.config import DemoConfig, demo_alerts, demo_detection
from swapwatch.detector.demo.live import LiveDisplay, Status
from swapwatch.detector.demo.scenario import SCENARIOS, DemoScenario
from swapwatch.detector.demo.tap import LiveState, ObservedDetector
from swapwatch.detector.demo.traffic import ServicePlan, plan_traffic
from swapwatch.detector.demo.transport import EmbeddedDetection, SpanQueue
from swapwatch.detector.demo.verdict import (
    DemoVerdict,
    ExpectedIncident,
    ExpectedSwap,
    judge,
)
from swapwatch.detector.detection.engine import Detector
from swapwatch.detector.detection.keys import SeriesKey
from swapwatch.detector.runtime.pipeline import Pipeline

log = logging.getLogger(__name__)

_TICK_S = 0.25
_GO_MARGIN_S = 1.0  # between "go" and the first planned call: every process hears it


class DemoError(RuntimeError):
    """The demo could not run (a service failed to start, a port, a broker)."""


@dataclass
class DemoResult:
    verdict: DemoVerdict
    alerts: list[Alert]
    out_dir: Path
    alerts_path: Path
    summary_path: Path
    report_path: Path | None
    planned: int
    sent: int
    detected: int
    wall_s: float
    notes: list[str] = field(default_factory=list)


class _Child:
    """A helper process spoken to in lines: it answers ``ready…``, we say ``go …``; closing
    its standard input ends it (so it never outlives the demo)."""

    def __init__(self, args: list[str], log_path: Path) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = log_path.open("wb")
        self.name = args[0]
        self.proc: subprocess.Popen[str] = subprocess.Popen(
            [sys.executable, "-m", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.log, text=True)

    def expect(self, word: str, timeout_s: float = 180.0) -> list[str]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout_s)
        if not ready:
            raise DemoError(f"{self.name} did not answer {word!r} within {timeout_s:.0f} s; "
                            f"see {self.log.name}")
        line = self.proc.stdout.readline().split()  # a dead process gives EOF at once
        if not line or line[0] != word:
            raise DemoError(f"{self.name} did not answer {word!r} "
                            f"(exit code {self.proc.poll()}); see {self.log.name}")
        return line[1:]

    def say(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def running(self) -> bool:
        return self.proc.poll() is None

    def rest(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.read()

    def stop(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):  # it may be gone already
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.log.close()


def _start_services(plans: list[ServicePlan], out_dir: Path, stack: ExitStack) -> list[_Child]:
    children = []
    for plan in plans:
        path = out_dir / "services" / f"{plan.service}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(plan.to_json()))
        child = _Child(["swapwatch.detector.demo.service", str(path)],
                       out_dir / "services" / f"{plan.service}.log")
        stack.callback(child.stop)
        children.append(child)
    return children


def _sent(children: list[_Child]) -> tuple[int, int]:
    """(calls sent, of which answered with an error) as the exited services report them."""
    sent = failed = 0
    for child in children:
        try:
            counts = json.loads(child.rest() or "{}")
        except ValueError:
            continue
        sent += int(counts.get("ok", 0)) + int(counts.get("failed", 0))
        failed += int(counts.get("failed", 0))
    return sent, failed


def expectations(scenario: DemoScenario, start_wall: float, duration_s: float
                 ) -> tuple[list[ExpectedSwap], list[ExpectedIncident]]:
    """The script in event time: the wall time each fraction of the run falls on."""
    def ns(fraction: float) -> int:
        return int((start_wall + fraction * duration_s) * 1e9)

    swaps = [ExpectedSwap(s.surface, scenario.key(s.surface).request_model, ns(s.at))
             for s in scenario.swaps]
    incidents = [ExpectedIncident(i.provider, ns(i.start), ns(i.end),
                                  tuple(k.surface for k in scenario.keys_of(i.provider)))
                 for i in scenario.incidents]
    return swaps, incidents


def _phase(scenario: DemoScenario, fraction: float) -> str:
    events = []
    for i in scenario.incidents:
        if i.start <= fraction < i.end:
            events.append(f"{i.provider} {i.slowdown:g}x slower (incident)")
    for s in scenario.swaps:
        if fraction >= s.at:
            events.append(f"{s.surface} silently served by {s.profile.split('/')[-1]}")
    if not events and fraction < min([s.at for s in scenario.swaps]
                                     + [i.start for i in scenario.incidents] + [1.0]):
        return "learning baselines"
    return "; ".join(events)


class _Ledgers:
    """Every detector's regime ledgers, as the report reads them."""

    def __init__(self, sources: list[Any]) -> None:
        self.sources = sources

    def ledgers(self) -> list[Any]:
        return [row for source in self.sources for row in source.ledgers()]


def run_demo(config: DemoConfig, out: IO[str] | None = None,
             base: SwapwatchConfig | None = None) -> DemoResult:
    """Run the demo (see the module docstring); prints the live view to ``out``."""
    from swapwatch.detector.report.sources import ReportRecorder

    out = out or sys.stdout
    base = base or SwapwatchConfig()
    scenario = SCENARIOS[config.scenario]
    out_dir = config.out_dir
    _clean(out_dir)
    detection_config = demo_detection(base.detection, config)
    alerts_config = demo_alerts(base.alerts, config, out_dir / "state" / "alerts")
    plans = plan_traffic(scenario, config.calls, config.duration_s, config.seed, config.workers)
    planned = sum(len(k.calls) for p in plans for k in p.keys)
    live = LiveState(ReportRecorder())
    began = time.monotonic()
    display = LiveDisplay(f"swapwatch demo: {scenario.name}", config.live, out)
    with ExitStack() as stack:
        provider = _Child(["swapwatch.detector.demo.provider_process", repr(config.speed)],
                          out_dir / "services" / "provider.log")
        stack.callback(provider.stop)
        port = int(provider.expect("ready")[0])
        sink: SpanSink
        embedded: EmbeddedDetection | None = None
        kafka: Any = None
        ledger_sources: list[Any]
        if config.kafka:
            from swapwatch.detector.demo.kafka_mode import KafkaDetection

            kafka = KafkaDetection(config.kafka, uuid.uuid4().hex[:8], detection_config,
                                   alerts_config, base.ingest, out_dir / "state", live)
            sink = kafka.sink
            ledger_sources = [kafka]
        else:
            detector = ObservedDetector(Detector(detection_config), live)
            dispatcher = AlertDispatcher(alerts_config)
            queue = SpanQueue()
            sink = queue
            embedded = EmbeddedDetection(queue, Pipeline(detector, dispatcher), base.ingest)
            ledger_sources = [detector]
        collector_config = CollectorConfig(grpc_endpoint=None, http_endpoint="127.0.0.1:0")
        receiver = OtlpReceiver(collector_config, SpanIntake(
            SpanRouter(collector_config, base.ingest), sink)).start()
        stack.callback(receiver.stop)
        for plan in plans:
            plan.extra.update(openai_url=f"http://127.0.0.1:{port}/v1",
                              anthropic_url=f"http://127.0.0.1:{port}",
                              otlp_endpoint=f"http://127.0.0.1:{receiver.http_port}")
        print(f"swapwatch demo: {scenario.description}\n  {planned} calls over "
              f"{config.duration_s:.0f} s at {config.speed:g}x ({config.simulated_s / 60:.0f} "
              f"simulated minutes), {'Kafka ' + config.kafka if config.kafka else 'no Kafka'}; "
              "starting services...", file=out, flush=True)
        services = _start_services(plans, out_dir, stack)
        for child in services:
            child.expect("ready", config.startup_timeout_s)
        if embedded is not None:
            embedded.start()
        if kafka is not None:
            kafka.start()
        start_wall = time.time() + _GO_MARGIN_S
        provider.say(f"go {scenario.name} {config.seed} {config.speed!r} {start_wall!r} "
                     f"{config.duration_s!r}")
        provider.expect("going")
        for child in services:
            child.say(f"go {start_wall!r}")
        clock = CompressedClock(start_wall, start_wall, config.speed)
        display.start()
        stack.callback(display.stop)

        def status() -> Status:
            fraction = max(0.0, min(1.0, (time.time() - start_wall) / config.duration_s))
            due = sum(1 for p in plans for k in p.keys for c in k.calls
                      if start_wall + c.offset_s <= time.time())
            return Status(fraction, due, planned, live.snapshot().calls,
                          datetime.fromtimestamp(clock(), tz=UTC).strftime("%H:%M"),
                          _phase(scenario, fraction))

        deadline = time.monotonic() + 4 * config.duration_s + config.startup_timeout_s
        while any(c.running() for c in services) and time.monotonic() < deadline:
            display.update(status(), live.snapshot())
            time.sleep(_TICK_S)
        # each service flushed its spans before it exited: wait until detection saw them all
        sent, failed = _sent(services)
        settle_until = time.monotonic() + config.settle_timeout_s
        while time.monotonic() < settle_until:
            idle = embedded.idle() if embedded is not None else True
            if idle and live.snapshot().calls >= sent:
                break
            display.update(status(), live.snapshot())
            time.sleep(_TICK_S)
        if embedded is not None:
            embedded.stop()
            embedded.pipeline.finish()  # end of input: the reorder buffer and staged calls
            dispatcher.drain()
            dispatcher.close()
        if kafka is not None:
            kafka.stop()
        display.update(status(), live.snapshot())
        display.stop()

    view = live.snapshot()
    swaps, incidents = expectations(scenario, start_wall, config.duration_s)
    by_surface = {k.key.surface: k.key for k in view.keys}

    def calls_between(surface: str, from_ns: int, to_ns: int) -> int:
        key: SeriesKey | None = by_surface.get(surface)
        return live.calls_between(key, from_ns, to_ns) if key is not None else 0

    verdict = judge(swaps, incidents, view.alerts, calls_between, config.speed)
    notes = []
    if failed:
        notes.append(f"{failed} calls answered with a simulated error (recorded as errors)")
    if view.calls < sent:
        notes.append(f"detection saw {view.calls} of the {sent} calls sent")
    report_path = _write_report(live, _Ledgers(ledger_sources), view.alerts, out_dir,
                                scenario, config, notes)
    result = DemoResult(verdict, view.alerts, out_dir, out_dir / "alerts.jsonl",
                        out_dir / "summary.json", report_path, planned, sent, view.calls,
                        time.monotonic() - began, notes)
    _write_summary(result, scenario, config)
    return result


def _clean(out_dir: Path) -> None:
    """A previous run's alerts, state and logs go (the alerts file is appended to)."""
    for stale in (out_dir / "alerts.jsonl", out_dir / "state", out_dir / "services"):
        if stale.is_dir():
            shutil.rmtree(stale)
        elif stale.exists():
            stale.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)


def _write_report(live: LiveState, ledgers: _Ledgers, alerts: list[Alert], out_dir: Path,
                  scenario: DemoScenario, config: DemoConfig, notes: list[str]) -> Path | None:
    try:
        from swapwatch.detector.report.html import render_html
        from swapwatch.detector.report.sources import write_report
    except ImportError as err:  # the report is optional; the verdict is not
        notes.append(f"no HTML report: {err}")
        return None
    recorder = live.recorder
    page_notes = [f"swapwatch demo, scenario {scenario.name}: {scenario.description}. Time is "
                  f"compressed {config.speed:g}x: durations are simulated seconds / "
                  f"{config.speed:g}."]
    data = recorder.report(f"swapwatch demo: {scenario.name}", "swapwatch demo", ledgers,
                           alerts, notes=page_notes)
    return Path(write_report(render_html(data), out_dir / "report.html"))


def _write_summary(result: DemoResult, scenario: DemoScenario, config: DemoConfig) -> None:
    v = result.verdict
    summary = {
        "scenario": scenario.name,
        "passed": v.passed,
        "verdict": v.lines(),
        "swaps": [{"surface": s.expected.surface, "caught": s.alert is not None,
                   "requests_after_change": s.requests_after,
                   "simulated_delay_s": s.simulated_delay_s,
                   "detector_delay_requests": s.alert.delay_requests if s.alert else None,
                   "signals": s.alert.signals if s.alert else []} for s in v.swaps],
        "incidents": [{"provider": i.expected.provider, "reported": i.alert is not None}
                      for i in v.incidents],
        "false_alarms": [json.loads(a.model_dump_json()) for a in v.false_alarms],
        "calls": {"planned": result.planned, "sent": result.sent, "detected": result.detected},
        "speed": config.speed, "duration_s": config.duration_s, "wall_s": round(result.wall_s, 1),
        "kafka": config.kafka,
        "report": str(result.report_path) if result.report_path else None,
        "alerts": str(result.alerts_path),
        "notes": result.notes,
    }
    result.summary_path.write_text(json.dumps(summary, indent=1) + "\n")
