"""The detection engine: keys, identity, swaps, incidents, determinism, checkpoints, CLI."""

from __future__ import annotations

import json
import pickle
import random
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import ValidationError
from swapwatch.detector.alerts.alert import Alert
from swapwatch.detector.calls import LlmCall
from swapwatch.detector.config import ConfigError, load_config
from swapwatch.detector.detection.config import DetectionConfig
from swapwatch.detector.detection.engine import Detector
from swapwatch.detector.detection.keys import KeyTable, SeriesKey

T0 = 1_772_400_000 * 10**9
SECOND = 10**9


def make_call(rng: random.Random, t_ns: int, surface: str = "chat", model: str = "gpt-4o",
              provider: str = "openai", swapped: bool = False, slow: float = 1.0,
              prompt_scale: float = 1.0) -> LlmCall:
    """One call; ``swapped`` serves a smaller model (faster, shorter, cheaper, new fingerprint)."""
    input_tokens = max(1, int(rng.lognormvariate(6.0, 0.8) * prompt_scale))
    output_tokens = max(8, int(rng.lognormvariate(5.0, 0.6) * (0.6 if swapped else 1.0)))
    ttft = (0.25 + input_tokens / 8000) * rng.lognormvariate(0.0, 0.2) * slow
    rate = 60.0 * rng.lognormvariate(0.0, 0.15) * (2.0 if swapped else 1.0) / slow
    return LlmCall(
        start_ns=t_ns, end_ns=t_ns + int((ttft + output_tokens / rate) * 1e9),
        service="api", surface=surface, provider=provider, request_model=model,
        response_model={"gpt-4o": "gpt-4o-2024-08-06"}.get(model, model), environment="prod",
        input_tokens=input_tokens, output_tokens=output_tokens, prompt_chars=input_tokens * 4,
        time_to_first_chunk_s=ttft, system_fingerprint="fp_small" if swapped else "fp_a",
        finish_reasons=("stop",) if rng.random() < (0.97 if swapped else 0.9) else ("length",),
    )


def stream(n: int, seed: int = 1, every_s: float = 20.0, **change: object) -> list[LlmCall]:
    """``n`` calls of one key; keyword ``at`` (call number) applies the rest of ``change``."""
    rng = random.Random(seed)
    at = int(change.pop("at", n + 1))  # type: ignore[call-overload]
    out = []
    t = T0
    for i in range(n):
        t += int(rng.expovariate(1 / every_s) * 1e9)
        extra = change if i >= at else {}
        out.append(make_call(rng, t, **extra))  # type: ignore[arg-type]
    return sorted(out, key=lambda c: c.end_ns)


def run(calls: list[LlmCall], config: DetectionConfig | None = None) -> list[Alert]:
    detector = Detector(config or DetectionConfig())
    alerts: list[Alert] = []
    for call in calls:
        alerts.extend(detector.process(call))
    return alerts + detector.flush()


def test_swap_is_one_alert_with_evidence_of_each_signal() -> None:
    calls = stream(4000, at=2500, swapped=True)
    alerts = run(calls)
    swaps = [a for a in alerts if a.kind == "swap"]
    assert len(swaps) == 1, [(a.kind, a.signals) for a in alerts]
    swap = swaps[0]
    assert len(swap.signals) >= 3
    assert set(swap.signals) <= set(swap.evidence)
    assert {"output_tokens", "fingerprint"} <= set(swap.signals)
    change_ns = sorted(c.end_ns for c in calls)[2500]
    assert swap.detected_at.timestamp() * 1e9 >= change_ns
    assert swap.delay_requests is not None and swap.delay_requests <= 200
    assert abs(swap.changed_at.timestamp() * 1e9 - change_ns) < 200 * 20 * SECOND
    assert swap.dedup_key == "swap/api/chat/openai/gpt-4o/prod"


def test_stationary_stream_and_longer_prompts_do_not_alert() -> None:
    assert run(stream(5000, seed=2)) == []
    assert [a for a in run(stream(5000, seed=3, at=2500, prompt_scale=2.0))
            if a.kind == "swap"] == []


def test_identity_fires_on_the_first_mismatch_and_resolves_once() -> None:
    rng = random.Random(4)
    calls = []
    for i in range(1200):
        call = make_call(rng, T0 + i * 10 * SECOND)
        if 300 <= i < 330 and i % 3 == 0:  # a failover episode
            call = replace(call, response_model="gpt-4o-mini-2024-07-18")
        calls.append(call)
    alerts = [a for a in run(calls) if a.kind == "identity"]
    assert [a.status for a in alerts] == ["firing", "resolved"]
    firing = alerts[0]
    # within one request: detected at the end of the first mismatching call (µs precision)
    assert abs(firing.detected_at.timestamp() * 1e9 - calls[300].end_ns) < 1e3
    assert firing.delay_requests == 0
    assert firing.evidence["served_model"] == "gpt-4o-mini-2024-07-18"


def test_snapshots_and_auto_routers_are_not_identity_mismatches() -> None:
    rng = random.Random(5)
    snap = [make_call(rng, T0 + i * SECOND) for i in range(50)]  # gpt-4o -> dated snapshot
    served = ["openai/gpt-4o", "openai/gpt-4o-mini"]
    router = [replace(make_call(rng, T0 + i * SECOND, model="openrouter/auto"),
                      response_model=served[i % 2])
              for i in range(50)]
    assert run(snap + router) == []


def test_provider_wide_slowdown_is_an_incident_not_a_swap() -> None:
    rng = random.Random(6)
    calls = []
    surfaces = ["chat", "search", "summarize", "tags"]
    for i in range(12_000):
        t = T0 + i * 5 * SECOND
        slow = 2.0 if 8_000 <= i < 9_500 else 1.0
        calls.append(make_call(rng, t, surface=surfaces[i % 4], slow=slow))
    alerts = run(sorted(calls, key=lambda c: c.end_ns))
    assert [a for a in alerts if a.kind == "swap"] == []
    incidents = [a for a in alerts if a.kind == "incident"]
    assert incidents and incidents[0].status == "firing"
    assert incidents[0].key.provider == "openai" and incidents[0].key.surface is None
    assert len([a for a in incidents if a.status == "firing"]) == 1


def test_replay_is_deterministic_and_survives_a_checkpoint() -> None:
    calls = stream(4000, seed=7, at=2500, swapped=True)
    whole = run(calls)
    detector = Detector(DetectionConfig())
    alerts: list[Alert] = []
    for call in calls[:2000]:
        alerts.extend(detector.process(call))
    restored: Detector = pickle.loads(pickle.dumps(detector))
    for call in calls[2000:]:
        alerts.extend(restored.process(call))
    alerts.extend(restored.flush())
    assert [a.model_dump() for a in alerts] == [a.model_dump() for a in whole]
    assert whole and whole == run(calls)


def test_out_of_order_spans_are_put_back_in_order() -> None:
    calls = stream(3000, seed=8, at=2000, swapped=True)
    shuffled = list(calls)
    rng = random.Random(1)
    for i in range(0, len(shuffled) - 1, 7):  # swap neighbours: a few seconds late
        shuffled[i], shuffled[i + 1] = shuffled[i + 1], shuffled[i]
    config = DetectionConfig(reorder_window_s=120)
    assert [a.model_dump() for a in run(shuffled, config)] \
        == [a.model_dump() for a in run(calls, config)]
    very_late = [*calls[:100], replace(calls[0], start_ns=calls[0].start_ns - 10**12,
                                       end_ns=calls[0].end_ns - 10**12), *calls[100:]]
    detector = Detector(config)
    for call in very_late:
        detector.process(call)  # must not raise
    assert detector.late_calls == 1
    assert rng.random() >= 0


def test_keys_are_bounded_and_idle_keys_evicted() -> None:
    config = DetectionConfig.model_validate({"keys": {"max_keys": 3, "idle_evict_s": 3600},
                                             "reorder_window_s": 0})
    detector = Detector(config)
    def at(t_s: int, surface: str) -> LlmCall:
        return LlmCall(start_ns=T0 + t_s * SECOND - 1, end_ns=T0 + t_s * SECOND, service="api",
                       surface=surface, provider="openai", request_model="gpt-4o")

    for i, surface in enumerate(["a", "b", "c", "d"]):
        detector.process(at(i, surface))
    detector.flush(T0 + 10 * SECOND)
    assert sorted(k.surface or "" for k in detector.keys()) == ["b", "c", "d"]  # noqa: SIM118
    detector.process(at(7200, "e"))
    detector.flush(T0 + 7300 * SECOND)
    assert [k.surface for k in detector.keys()] == ["e"]  # noqa: SIM118


def test_tenant_is_part_of_the_key_when_configured() -> None:
    call = replace(make_call(random.Random(1), T0), tenant="acme")
    assert SeriesKey.of(call).tenant == "acme"
    assert SeriesKey.of(call, include_tenant=False).tenant is None
    table: KeyTable[int] = KeyTable(max_keys=10, idle_evict_ns=1)
    table.get_or_create(SeriesKey.of(call), 5, lambda: 1)
    assert table.last_seen_ns(SeriesKey.of(call)) == 5


def test_change_points_are_exposed_for_a_ledger() -> None:
    calls = stream(4000, at=2500, swapped=True)
    detector = Detector(DetectionConfig())
    for call in calls:
        detector.process(call)
    detector.flush()
    points = detector.drain_change_points()
    swapped = [p for p in points if p.outcome == "swap"]
    assert len(swapped) >= 3
    for point in swapped:
        assert point.started_ns <= point.detected_ns
        assert point.before and point.after
    assert detector.drain_change_points() == []


@pytest.mark.parametrize(("data", "message"), [
    ({"signals": ["latency", "vibes"]}, "unknown signal"),
    ({"correlation": {"min_signals": 0}}, "greater than or equal to 1"),
    ({"min_relative_effect": {"cost": -1}}, "must be > 0"),
    ({"identity": {"any_model_patterns": ["("]}}, "bad pattern"),
    ({"numeric": {"block_size": 32}, "correlation": {"window_requests": 16}},
     "window_requests must be at least"),
    ({"nope": 1}, "Extra inputs"),
])
def test_configuration_errors_are_clear(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DetectionConfig.model_validate(data)


def test_configuration_loads_from_yaml_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "swapwatch.yaml"
    path.write_text("detection:\n  correlation:\n    min_signals: 4\n")
    config = load_config(path, environ={"SWAPWATCH__DETECTION__KEYS__MAX_KEYS": "7"})
    assert config.detection.correlation.min_signals == 4
    assert config.detection.keys.max_keys == 7
    path.write_text("detection:\n  correlation:\n    min_signals: many\n")
    with pytest.raises(ConfigError, match=r"detection\.correlation\.min_signals"):
        load_config(path, environ={})


def test_detect_command_replays_spans_to_alerts(tmp_path: Path) -> None:
    from swapwatch.detector.simulator.spans import DIALECTS  # the real span writer

    assert "otel" in DIALECTS
    spans = tmp_path / "spans.jsonl"
    out = tmp_path / "alerts.jsonl"
    subprocess.run([sys.executable, "-m", "swapwatch.detector.cli", "simulate", "--scenario",
                    "honest-failover", "--variant", "100%", "--seed", "1", "--days", "1.5",
                    "--rate-scale", "0.1",
                    "--out", str(tmp_path / "run")], check=True, capture_output=True)
    produced = sorted((tmp_path / "run").rglob("*.jsonl"))
    assert produced
    spans = next(p for p in produced if "alert" not in p.name)
    config = tmp_path / "c.yaml"
    config.write_text("detection:\n  correlation:\n    min_signals: 3\n")
    cmd = [sys.executable, "-m", "swapwatch.detector.cli", "detect", "--input", str(spans),
           "--alerts-out", str(out), "--config", str(config)]
    subprocess.run(cmd, check=True, capture_output=True)
    lines = out.read_text().splitlines()
    alerts = [Alert.model_validate_json(line) for line in lines]
    assert any(a.kind == "identity" for a in alerts)
    first = out.read_text()
    subprocess.run(cmd, check=True, capture_output=True)
    assert out.read_text() == first  # deterministic
    piped = subprocess.run([*cmd[:5], "-", "--alerts-out", "-"], input=spans.read_bytes(),
                           check=True, capture_output=True)
    assert piped.stdout.decode() == first
    assert all(json.loads(line)["dedup_key"] for line in lines)
