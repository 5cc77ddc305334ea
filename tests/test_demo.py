"""``swapwatch demo``: the whole chain in one run, and its parts with tables.

The end-to-end tests run the real thing: service processes calling the simulated provider over
HTTP with the real openai and anthropic SDKs and swapwatch instrumentation, OTLP to the
collector, detection, alerts, the report. They use fewer calls than ``make demo`` and a
shorter learner warm-up (``numeric.warmup_blocks``, ``categorical.warmup_calls``), so that a
run fits a test's time; what they assert does not depend on timing.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from swapwatch.detector.alerts.alert import Alert, AlertKey
from swapwatch.detector.config import SwapwatchConfig
from swapwatch.detector.demo.behaviour import CompressedClock, Timeline, scenario_behaviour
from swapwatch.detector.demo.config import DemoConfig, demo_detection
from swapwatch.detector.demo.live import LiveDisplay, Status
from swapwatch.detector.demo.runner import expectations, run_demo
from swapwatch.detector.demo.scenario import SCENARIOS
from swapwatch.detector.demo.tap import KeyView, LiveView
from swapwatch.detector.demo.traffic import ServicePlan, plan_traffic
from swapwatch.detector.demo.verdict import ExpectedIncident, ExpectedSwap, judge
from swapwatch.detector.detection.config import DetectionConfig
from swapwatch.detector.simulator.behaviour import Reply, Request

T0 = 1_800_000_000.0


def _alert(kind: str, at_s: float, surface: str | None = None, provider: str = "openai",
           status: str = "firing") -> Alert:
    t = datetime.fromtimestamp(at_s, tz=UTC)
    return Alert(kind=kind, status=status, key=AlertKey(surface=surface, provider=provider),  # type: ignore[arg-type]
                 detected_at=t, changed_at=t, summary=f"{kind} on {surface or provider}")


SWAP = ExpectedSwap("qa", "gpt-4-turbo", int(100e9))
INCIDENT = ExpectedIncident("anthropic", int(50e9), int(80e9), ("triage", "drafts"))


@pytest.mark.parametrize(("alerts", "caught", "reported", "false_alarms", "passed"), [
    ([_alert("swap", 130, "qa"), _alert("incident", 60, provider="anthropic")],
     True, True, 0, True),
    ([], False, False, 0, False),
    # before the change: not a catch, a false alarm
    ([_alert("swap", 90, "qa")], False, False, 1, False),
    # identity counts as a catch, like swap
    ([_alert("identity", 101, "qa"), _alert("incident", 60, provider="anthropic")],
     True, True, 0, True),
    # the incident provider's key called a swap: a false alarm, even with the incident
    ([_alert("swap", 130, "qa"), _alert("incident", 60, provider="anthropic"),
      _alert("swap", 65, "triage", provider="anthropic")], True, True, 1, False),
    # a resolved incident alone does not report it
    ([_alert("swap", 130, "qa"), _alert("incident", 60, provider="anthropic",
                                        status="resolved")], True, False, 0, False),
    # a second alert on the caught key after its change is the same change
    ([_alert("swap", 130, "qa"), _alert("swap", 150, "qa"),
      _alert("incident", 60, provider="anthropic")], True, True, 0, True),
])
def test_verdict_table(alerts: list[Alert], caught: bool, reported: bool, false_alarms: int,
                       passed: bool) -> None:
    verdict = judge([SWAP], [INCIDENT], alerts, lambda surface, a, b: 7, speed=10.0)
    assert (verdict.swaps[0].alert is not None) == caught
    assert (verdict.incidents[0].alert is not None) == reported
    assert len(verdict.false_alarms) == false_alarms
    assert verdict.passed == passed
    if caught:
        assert verdict.swaps[0].requests_after == 7
        assert verdict.lines()[0].startswith("CAUGHT")


def test_detection_keeps_what_decides_and_moves_durations_to_the_demo_clock() -> None:
    base = DetectionConfig()
    demo = DemoConfig(speed=5.0, duration_s=100.0)
    cfg = demo_detection(base, demo)
    assert cfg.numeric.entry_s == 5.0  # a twentieth of the run: there is no day to span
    assert cfg.incident.window_s == base.incident.window_s / 5.0
    assert cfg.identity.resolve_after_s == base.identity.resolve_after_s / 5.0
    assert cfg.correlation.window_requests == base.correlation.window_requests
    assert cfg.numeric.threshold == base.numeric.threshold
    assert cfg.min_relative_effect == base.min_relative_effect


def test_plans_are_seeded_and_round_trip() -> None:
    scenario = SCENARIOS["swap-and-incident"]
    plans = plan_traffic(scenario, total_calls=2000, duration_s=30.0, seed=3)
    again = plan_traffic(scenario, total_calls=2000, duration_s=30.0, seed=3)
    other = plan_traffic(scenario, total_calls=2000, duration_s=30.0, seed=4)
    assert plans == again and plans != other
    assert sum(len(k.calls) for p in plans for k in p.keys) == 2000
    assert {p.service for p in plans} == set(scenario.services())
    assert ServicePlan.from_json(json.loads(json.dumps(plans[0].to_json()))) == plans[0]


def test_the_scripted_behaviour_swaps_and_slows_at_its_simulated_times() -> None:
    scenario = SCENARIOS["swap-and-incident"]
    timeline = Timeline(T0, 1000.0)
    behaviour = scenario_behaviour(scenario, timeline, seed=1)

    def ask(model: str, api: str, fraction: float, h: int) -> Reply:
        return behaviour.reply(Request(api=api, request_model=model,  # type: ignore[arg-type]
                                       prompt_tokens=200, prompt_chars=800, max_tokens=300,
                                       stream=False, tools=False, headers={},
                                       now=timeline.at(fraction), prompt_hash=h))

    def answered(replies: list[Reply]) -> list[Reply]:
        return [r for r in replies if r.error_status is None]

    before = answered([ask("gpt-4-turbo", "openai", 0.1, h) for h in range(200)])
    after = answered([ask("gpt-4-turbo", "openai", 0.9, h) for h in range(200)])
    # other weights behind the same name: new fingerprints, 2x+ faster decoding
    assert {r.served_model for r in before} == {r.served_model for r in after}
    assert not {r.system_fingerprint for r in before} & {r.system_fingerprint for r in after}
    assert _median([r.decode_tokens_per_s for r in after]) > 2 * _median(
        [r.decode_tokens_per_s for r in before])
    calm = answered([ask("claude-haiku-4-5", "anthropic", 0.3, h) for h in range(200)])
    slow = answered([ask("claude-haiku-4-5", "anthropic", 0.6, h) for h in range(200)])
    ratio = _median([r.decode_tokens_per_s for r in calm]) / _median(
        [r.decode_tokens_per_s for r in slow])
    assert 1.6 < ratio < 2.5


def test_compressed_clock() -> None:
    now = [T0 + 2.0]
    clock = CompressedClock(T0, T0, speed=30.0, wall=lambda: now[0])
    assert clock() == T0 + 60.0
    assert clock.wall_at(T0 + 60.0) == T0 + 2.0


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


# a shorter learner warm-up, so that a run with fewer calls than `make demo` still has
# warmed-up keys well before the swap and the incident
QUICK = SwapwatchConfig.model_validate({"detection": {
    "numeric": {"warmup_blocks": 8}, "categorical": {"warmup_calls": 128}}})


def _check_run(out: Path, result: object, scenario_name: str) -> None:
    from swapwatch.detector.demo.runner import DemoResult

    assert isinstance(result, DemoResult)
    scenario = SCENARIOS[scenario_name]
    print("\n".join(result.verdict.lines()))
    assert result.detected >= 0.98 * result.sent > 0
    swap_alerts = [a for a in result.alerts if a.kind in ("swap", "identity")
                   and a.status == "firing"]
    # the swap is caught on the right key, after the change
    for swap in result.verdict.swaps:
        assert swap.alert is not None, f"swap on {swap.expected.surface} not caught"
        assert swap.alert.key.surface == swap.expected.surface
        assert swap.requests_after is not None and swap.requests_after > 0
    # nothing else is called a swap: not the incident provider's keys, not the quiet key
    swapped = {s.surface for s in scenario.swaps}
    assert [a.summary for a in swap_alerts if a.key.surface not in swapped] == []
    for incident in result.verdict.incidents:
        assert incident.swaps_on_provider == ()
        if incident.alert is not None:
            assert incident.alert.key.provider == incident.expected.provider
    summary = json.loads(result.summary_path.read_text())
    assert summary["scenario"] == scenario_name
    assert result.alerts_path.exists()
    lines = [Alert.model_validate_json(line) for line in
             result.alerts_path.read_text().splitlines()]
    assert {a.key.surface for a in lines if a.kind == "swap"} == swapped
    assert result.report_path is not None and result.report_path.exists()
    assert "swapwatch demo" in result.report_path.read_text()[:200_000]


# The live demo measures real (compressed) reply times: on a starved 2-core machine the callers
# fall behind and timing signals blur, so one rerun is allowed. Detection logic itself is tested
# deterministically on replayed spans (test_detection_*).
LIVE_RERUNS = pytest.mark.flaky(reruns=1)


@pytest.mark.slow
@LIVE_RERUNS
def test_demo_catches_the_swap_and_calls_the_incident_an_incident(tmp_path: Path) -> None:
    config = DemoConfig(duration_s=45.0, calls=3000, speed=4.0, out_dir=tmp_path, live=False)
    result = run_demo(config, base=QUICK)
    _check_run(tmp_path, result, "swap-and-incident")
    swaps, incidents = expectations(SCENARIOS["swap-and-incident"], 0.0, 45.0)
    assert [s.surface for s in swaps] == ["product-qa"]
    assert [i.provider for i in incidents] == ["anthropic"]


@pytest.mark.kafka
@pytest.mark.slow
@LIVE_RERUNS
def test_demo_through_kafka(tmp_path: Path, kafka_bootstrap: str) -> None:
    config = DemoConfig(scenario="swap", duration_s=40.0, calls=2400, speed=4.0,
                        out_dir=tmp_path, live=False, kafka=kafka_bootstrap)
    result = run_demo(config, base=QUICK)
    _check_run(tmp_path, result, "swap")


def _view() -> LiveView:
    from swapwatch.detector.detection.keys import SeriesKey

    key = SeriesKey("shop", "product-qa", "openai", "gpt-4-turbo", "prod")
    return LiveView(calls=600, keys=[KeyView(key, 600, 2, {"gpt-4-turbo-2024-04-09": 598},
                                             ["fingerprint", "decode_rate"], True)],
                    alerts=[_alert("swap", T0, "product-qa")], last_end_ns=0)


def test_live_view_draws_a_table_on_a_terminal() -> None:
    out = io.StringIO()
    display = LiveDisplay("swapwatch demo", live=True, out=out).start()
    display.update(Status(0.5, 300, 600, 290, "14:05", "learning baselines"), _view())
    display.stop()
    text = out.getvalue()
    for expected in ("product-qa", "fingerprint", "SWAP", "14:05"):
        assert expected in text


def test_plain_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    ticks = iter([0.0, 1.0, 6.0])
    display = LiveDisplay("swapwatch demo", out=out, clock=lambda: next(ticks)).start()
    assert not display.live  # a StringIO is not a TTY
    for _ in range(3):
        display.update(Status(0.5, 300, 600, 290, "14:05"), _view())
    lines = out.getvalue().splitlines()
    # the alert once, a progress line at t=0 and t=6 s, none at t=1 s
    assert [line.split()[0] for line in lines] == ["ALERT", "[", "["]
    assert lines[0].startswith("ALERT swap firing on product-qa")
