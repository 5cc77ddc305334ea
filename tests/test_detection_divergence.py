"""Divergence across environments and hosts: one model identifier, two artifacts."""

from __future__ import annotations

import pickle
import random
import statistics
from collections.abc import Iterator

import pytest
from swapwatch.detector.alerts.alert import Alert
from swapwatch.detector.calls import LlmCall
from swapwatch.detector.detection.config import DetectionConfig
from swapwatch.detector.detection.divergence import (
    DivergenceConfig,
    DivergenceMonitor,
    Episode,
    TraitComparison,
    compare_medians,
    compare_shares,
    divergent_traits,
    next_episode,
    pair_kind,
)
from swapwatch.detector.detection.engine import Detector
from swapwatch.detector.detection.keys import SeriesKey

PROD = SeriesKey("support-api", "chat", "openai", "gpt-4o", "prod")
EVAL = PROD._replace(environment="eval")
S = 10**9


# -- pure decisions ------------------------------------------------------------------------------

@pytest.mark.parametrize(("b", "match_surface", "expected"), [
    (PROD._replace(environment="eval"), True, "environment"),
    (PROD._replace(environment=None), True, "environment"),
    (PROD._replace(provider="azure.ai.openai"), True, "host"),
    (PROD._replace(request_model="gpt-4o-2024-08-06"), True, None),  # same series, other id
    (PROD._replace(environment="eval", provider="azure.ai.openai"), True, None),  # two axes
    (PROD._replace(surface="search", environment="eval"), True, None),  # other prompts
    (PROD._replace(surface="search", environment="eval"), False, "environment"),
    (PROD._replace(tenant="acme", environment="eval"), True, None),
])
def test_pair_kind(b: SeriesKey, match_surface: bool, expected: str | None) -> None:
    assert pair_kind(PROD, b, match_surface) == expected
    assert pair_kind(b, PROD, match_surface) == expected


CFG = DivergenceConfig(min_samples=100, min_matched=50, max_share_overlap=0.05)


@pytest.mark.parametrize(("a", "b", "overlap", "differs"), [
    ({"x": 100}, {"y": 100}, 0.0, True),
    ({"x": 60, "y": 40}, {"y": 100}, 0.4, False),
    ({"x": 97, "y": 3}, {"y": 100}, 0.03, True),  # a stray shared value is still disjoint
    ({"x": 50, "y": 50}, {"x": 50, "y": 50}, 1.0, False),
    ({"x": 99}, {"y": 100}, None, None),  # too few calls on one side
])
def test_compare_shares(a: dict[str, int], b: dict[str, int], overlap: float | None,
                        differs: bool | None) -> None:
    result = compare_shares("fingerprint", a, b, CFG)
    if overlap is None:
        assert result is None
        return
    assert result is not None
    assert result.value == pytest.approx(overlap)
    assert result.differs is differs


@pytest.mark.parametrize(("a", "b", "ratio", "differs"), [
    ({1: (100.0, 200)}, {1: (70.0, 200)}, 100 / 70, True),
    ({1: (100.0, 200)}, {1: (85.0, 200)}, 100 / 85, False),
    # raw medians differ 2x, but only because b has more long calls: within strata they agree
    ({1: (50.0, 150), 2: (100.0, 50)}, {1: (50.0, 50), 2: (100.0, 150)}, 1.0, False),
    ({1: (100.0, 200)}, {2: (50.0, 200)}, None, None),  # no shared stratum
    ({1: (100.0, 60)}, {1: (50.0, 200)}, None, None),  # too few calls on one side
])
def test_compare_medians(a: dict[int, tuple[float, int]], b: dict[int, tuple[float, int]],
                         ratio: float | None, differs: bool | None) -> None:
    result = compare_medians("decode_rate", a, b, CFG)
    if ratio is None:
        assert result is None
        return
    assert result is not None
    assert result.value == pytest.approx(ratio)
    assert result.differs is differs


@pytest.mark.parametrize(("differing", "expected"), [
    ((), []),
    (("fingerprint",), ["fingerprint"]),
    (("model_share",), ["model_share"]),
    (("decode_rate",), []),  # a host's hardware alone moves speed
    (("output_tokens",), []),
    (("decode_rate", "output_tokens"), ["decode_rate", "output_tokens"]),
    (("fingerprint", "decode_rate"), ["decode_rate", "fingerprint"]),
])
def test_divergent_traits(differing: tuple[str, ...], expected: list[str]) -> None:
    traits = ("fingerprint", "model_share", "decode_rate", "output_tokens")
    comparisons = [TraitComparison(t, 0.0, 500, t in differing) for t in traits]
    assert divergent_traits(comparisons, DivergenceConfig()) == expected


def test_next_episode_fires_once_and_resolves() -> None:
    cfg = DivergenceConfig(confirm_checks=2, resolve_checks=3)
    checks = [True, False, True, True, True, None, True, False, False, True, False, False,
              False, True, True]
    expected = [None, None, None, "fire", None, None, None, None, None, None, None, None,
                "resolve", None, "fire"]
    episode, steps = Episode(), []
    for t, diverged in enumerate(checks):
        episode, step = next_episode(episode, diverged, t, cfg)
        steps.append(step)
    assert steps == expected


# -- the monitor on generated traffic ------------------------------------------------------------

def artifact_calls(rng: random.Random, key: SeriesKey, t0: float, n: int, *, gap_s: float,
                   fingerprints: tuple[str, ...] | None, decode_tps: float,
                   verbosity: float = 1.0, prompt_scale: float = 1.0, stream: bool = True,
                   served: str = "gpt-4o-2024-08-06", host: str = "api.openai.com"
                   ) -> Iterator[LlmCall]:
    """Calls of one artifact: output length grows with the prompt; decode speed is the model's.

    Non-streamed calls have no time to first chunk, so their decode rate includes prefill.
    """
    t = t0
    for _ in range(n):
        t += rng.expovariate(1 / gap_s)
        input_tokens = max(1, int(rng.lognormvariate(6.0, 0.8) * prompt_scale))
        output_tokens = max(2, int(0.3 * input_tokens * verbosity * rng.lognormvariate(0, 0.3)))
        ttft = 0.3 + input_tokens / 8000 + rng.expovariate(10)
        decode_s = output_tokens / (decode_tps * rng.lognormvariate(0, 0.15))
        start = int(t * S)
        yield LlmCall(
            start_ns=start, end_ns=start + int((ttft + decode_s) * S), service=key.service,
            surface=key.surface, provider=key.provider, request_model=key.request_model,
            environment=key.environment, tenant=key.tenant, server_address=host,
            response_model=served, input_tokens=input_tokens, output_tokens=output_tokens,
            system_fingerprint=rng.choice(fingerprints) if fingerprints else None,
            time_to_first_chunk_s=ttft if stream else None, streaming=stream,
        )


def interleave(*streams: Iterator[LlmCall]) -> list[LlmCall]:
    return sorted((c for s in streams for c in s), key=lambda c: c.end_ns)


def run(monitor: DivergenceMonitor, calls: list[LlmCall]) -> list[Alert]:
    alerts: list[Alert] = []
    for call in calls:
        alerts += monitor.observe(SeriesKey.of(call), call)
    return alerts


GPT4O_FPS = ("fp_3667c6ddee", "fp_5d3d99d972")
MINI_FPS = ("fp_e1a907d2f8", "fp_642cc0b41e")


def test_fires_once_on_prod_and_eval_served_different_artifacts() -> None:
    rng = random.Random(1)
    calls = interleave(
        artifact_calls(rng, PROD, 0, 4000, gap_s=20, fingerprints=MINI_FPS, decode_tps=90,
                       verbosity=0.9),
        artifact_calls(rng, EVAL, 0, 1000, gap_s=80, fingerprints=GPT4O_FPS, decode_tps=60,
                       stream=False),
    )
    alerts = run(DivergenceMonitor(), calls)
    assert [(a.kind, a.status) for a in alerts] == [("divergence", "firing")]
    alert = alerts[0]
    assert "fingerprint" in alert.signals
    assert alert.key.request_model == "gpt-4o" and alert.key.environment is None
    assert alert.key.surface == "chat" and alert.key.provider == "openai"
    evidence = alert.evidence
    assert evidence["pair"] == "environment"
    assert {s["environment"] for s in evidence["sides"]} == {"prod", "eval"}
    assert evidence["traits"]["fingerprint"]["overlap"] == 0.0
    assert all(s["calls"] >= 200 for s in evidence["sides"])
    assert alert.changed_at <= alert.detected_at
    eval_side = next(s for s in evidence["sides"] if s["environment"] == "eval")
    assert set(eval_side["fingerprints"]) == set(GPT4O_FPS)


def test_quiet_on_the_same_artifact_with_different_prompt_mixes() -> None:
    rng = random.Random(2)
    prod = list(artifact_calls(rng, PROD, 0, 4000, gap_s=20, fingerprints=GPT4O_FPS,
                               decode_tps=60))
    # eval sends prompts 3x longer, not streamed: longer answers, prefill inside decode rate
    evals = list(artifact_calls(rng, EVAL, 0, 1500, gap_s=50, fingerprints=GPT4O_FPS,
                                decode_tps=60, prompt_scale=3.0, stream=False))
    raw_out = statistics.median(c.output_tokens or 0 for c in evals) / statistics.median(
        c.output_tokens or 0 for c in prod)
    raw_latency = statistics.median(c.duration_s for c in evals) / statistics.median(
        c.duration_s for c in prod)
    assert raw_out > 2 and raw_latency > 1.5  # unconditioned, both would look like a divergence
    monitor = DivergenceMonitor()
    assert run(monitor, interleave(iter(prod), iter(evals))) == []
    assert monitor.checks > 10  # it did compare, many times


def test_hosts_of_one_open_model_diverge_on_speed_and_length_not_speed_alone() -> None:
    together = SeriesKey("analytics", "report", "together_ai", "meta-llama/Llama-2-70b-chat-hf",
                         "prod")
    fireworks = together._replace(provider="fireworks_ai")
    rng = random.Random(3)

    def hosts(fireworks_verbosity: float) -> list[LlmCall]:
        return interleave(
            artifact_calls(rng, together, 0, 2000, gap_s=30, fingerprints=None, decode_tps=40,
                           host="api.together.xyz"),
            artifact_calls(rng, fireworks, 0, 2000, gap_s=30, fingerprints=None, decode_tps=65,
                           verbosity=fireworks_verbosity, host="api.fireworks.ai"),
        )

    alerts = run(DivergenceMonitor(), hosts(fireworks_verbosity=1.5))
    assert [(a.kind, a.evidence["pair"]) for a in alerts] == [("divergence", "host")]
    assert alerts[0].signals == ["decode_rate", "output_tokens"]
    assert alerts[0].key.provider is None and alerts[0].key.environment == "prod"
    assert {s["server_address"] for s in alerts[0].evidence["sides"]} == {
        "api.together.xyz", "api.fireworks.ai"}
    assert run(DivergenceMonitor(), hosts(fireworks_verbosity=1.0)) == []  # faster hardware


def test_one_alert_per_episode_resolves_and_fires_again() -> None:
    rng = random.Random(4)

    def phase(t0: float, eval_fps: tuple[str, ...], n: int) -> list[LlmCall]:
        return interleave(
            artifact_calls(rng, PROD, t0, n, gap_s=10, fingerprints=GPT4O_FPS, decode_tps=60),
            artifact_calls(rng, EVAL, t0, n, gap_s=10, fingerprints=eval_fps, decode_tps=60),
        )

    calls = phase(0, MINI_FPS, 3000) + phase(40_000, GPT4O_FPS, 3000) + phase(
        80_000, MINI_FPS, 3000)
    alerts = run(DivergenceMonitor(), calls)
    assert [a.status for a in alerts] == ["firing", "resolved", "firing"]
    assert len({a.dedup_key for a in alerts}) == 1  # one pair, one dedup key
    assert alerts[1].detected_at.timestamp() > 40_000 > alerts[0].detected_at.timestamp()
    assert alerts[2].detected_at.timestamp() > 80_000


def test_stale_partner_is_not_compared() -> None:
    rng = random.Random(5)
    old_eval = list(artifact_calls(rng, EVAL, 0, 600, gap_s=10, fingerprints=MINI_FPS,
                                   decode_tps=60))
    prod = list(artifact_calls(rng, PROD, 86_400, 3000, gap_s=10, fingerprints=GPT4O_FPS,
                               decode_tps=60))
    assert run(DivergenceMonitor(DivergenceConfig(stale_s=3600)), old_eval + prod) == []


def test_pickled_monitor_continues_exactly() -> None:
    rng = random.Random(6)
    calls = interleave(
        artifact_calls(rng, PROD, 0, 3000, gap_s=20, fingerprints=MINI_FPS, decode_tps=90),
        artifact_calls(rng, EVAL, 0, 1000, gap_s=60, fingerprints=GPT4O_FPS, decode_tps=60),
    )
    whole = run(DivergenceMonitor(), calls)
    first = DivergenceMonitor()
    head = run(first, calls[:1500])
    resumed = pickle.loads(pickle.dumps(first))
    assert head + run(resumed, calls[1500:]) == whole
    assert len(whole) == 1


def test_unpaired_series_keep_no_window_and_sides_are_bounded() -> None:
    monitor = DivergenceMonitor(DivergenceConfig(max_sides=50))
    rng = random.Random(7)
    for i in range(200):  # 200 surfaces of one model: no pair among them
        key = PROD._replace(surface=f"surface-{i}")
        for call in artifact_calls(rng, key, i, 20, gap_s=1, fingerprints=GPT4O_FPS,
                                   decode_tps=60):
            assert monitor.observe(key, call) == []
    assert monitor.dropped_sides == 150
    assert len(pickle.dumps(monitor)) < 50 * 400  # small stubs, no call windows


def test_engine_reports_divergence_from_its_own_stream() -> None:
    rng = random.Random(8)
    calls = interleave(
        artifact_calls(rng, PROD, 0, 3000, gap_s=20, fingerprints=MINI_FPS, decode_tps=90),
        artifact_calls(rng, EVAL, 0, 800, gap_s=75, fingerprints=GPT4O_FPS, decode_tps=60),
    )
    detector = Detector(DetectionConfig())
    alerts = [a for c in calls for a in detector.process(c)] + detector.flush()
    assert [a.kind for a in alerts if a.kind == "divergence"] == ["divergence"]
    off = Detector(DetectionConfig.model_validate({"divergence": {"enabled": False}}))
    assert not [a for c in calls for a in off.process(c) if a.kind == "divergence"]


def test_eval_vs_prod_scenario_is_reported() -> None:
    """The benchmark's eval-vs-prod scenario (simulator), the two keys of the chat surface."""
    from swapwatch.detector.simulator.generate import generate
    from swapwatch.detector.simulator.suite import build_scenario

    scenario = build_scenario("eval-vs-prod", variant="prod-repointed", seed=3, days=3)
    calls: list[LlmCall] = []
    generate(scenario, lambda c: calls.append(c) if c.surface == "chat-assistant" else None)
    since = scenario.divergences[0].from_s + scenario.start.timestamp()
    monitor = DivergenceMonitor()
    alerts = run(monitor, calls)
    firing = [a for a in alerts if a.status == "firing"]
    assert len(firing) == 1
    assert firing[0].key.request_model == "gpt-4o"
    assert firing[0].evidence["pair"] == "environment"
    assert firing[0].detected_at.timestamp() >= since  # not before prod was re-pointed
