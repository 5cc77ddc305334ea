"""Every benchmark scenario exists, and its ground truth is what its spans really contain.

Each scenario is generated small (1.5 days, 15% of the traffic), written as OTLP JSON,
read back through swapwatch's ingest, and checked: the truth's measured signal shifts are
recomputed from the spans, and each scenario's defining fact is checked on the spans.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from pathlib import Path

import pytest
from swapwatch.detector.calls import LlmCall
from swapwatch.detector.ingest.decode import iter_calls_from_file
from swapwatch.detector.simulator.profiles import load_catalog
from swapwatch.detector.simulator.run import simulate_to_dir
from swapwatch.detector.simulator.suite import FT_MODEL, SUITE, build_scenario
from swapwatch.detector.simulator.truth import parse_time, signal_shifts

# The table in docs/benchmark.md.
BENCHMARK_SCENARIOS = (
    "silent-downgrade", "honest-failover", "router-drift", "finetune-repoint",
    "quantized-provider", "provider-variance", "size-swap", "eval-vs-prod", "traffic-mix",
    "provider-incident", "stationary-month",
)
DAY = 86400.0
CATALOG = load_catalog()


class Run:
    def __init__(self, tmp: Path, name: str, variant: str, seed: int = 2) -> None:
        simulate_to_dir(name, seed=seed, out_dir=tmp, variant=variant, days=1.5,
                        rate_scale=0.15)
        self.truth = json.loads((tmp / "truth.json").read_text())
        self.calls = list(iter_calls_from_file(tmp / "spans.jsonl"))

    def of(self, key: dict[str, str]) -> list[LlmCall]:
        return [c for c in self.calls if all(getattr(c, f) == v for f, v in key.items())]

    @staticmethod
    def between(calls: list[LlmCall], lo: float, hi: float) -> list[LlmCall]:
        return [c for c in calls if lo <= c.start_ns / 1e9 < hi]

    def around(self, event: dict, key: dict[str, str]) -> tuple[list[LlmCall], list[LlmCall]]:
        at = parse_time(event.get("at") or event["from"])
        settled = at + event.get("ramp_s", 0.0)
        calls = self.of(key)
        return self.between(calls, at - DAY, at), self.between(calls, settled, settled + DAY)

    def check_truth_matches_spans(self) -> None:
        assert len(self.calls) == sum(k["requests"] for k in self.truth["keys"])
        for change in self.truth["changes"]:
            before, after = self.around(change, change["key"])
            assert before and after
            assert signal_shifts(before, after) == change["signals"]
            at = parse_time(change["at"])
            assert len(self.between(self.of(change["key"]), at + 1e-9, at + DAY)) == len(
                change["arrivals_after_s"]) or abs(
                len(self.between(self.of(change["key"]), at, at + DAY))
                - len(change["arrivals_after_s"])) <= 1


def _share(calls: list[LlmCall], model: str) -> float:
    ok = [c for c in calls if not c.is_error]
    return sum(c.response_model == model for c in ok) / len(ok)


def _fingerprints(profile_id: str) -> set[str]:
    return {fp for fp, _ in CATALOG.model(profile_id).fingerprints}


def _seen(calls: list[LlmCall]) -> set[str | None]:
    return {c.system_fingerprint for c in calls if not c.is_error}


def test_the_suite_is_the_benchmark_table() -> None:
    assert tuple(SUITE) == BENCHMARK_SCENARIOS
    for spec in SUITE.values():
        assert len(spec.variants) >= 2  # several magnitudes each
        for variant in spec.variants:
            scenario = build_scenario(spec.name, variant=variant, seed=0)
            assert 3 <= len(scenario.keys) <= 12
            rates = [k.rate_per_day for k in scenario.keys]
            assert min(rates) >= 200 and max(rates) <= 3000
            assert bool(scenario.changes and not spec.benign) or spec.benign or \
                scenario.divergences


def test_seeds_change_the_change_time() -> None:
    times = {build_scenario("size-swap", seed=s).changes[0].at_s for s in range(4)}
    assert len(times) == 4


def test_silent_downgrade(tmp_path: Path) -> None:
    run = Run(tmp_path, "silent-downgrade", "gpt-4o>gpt-4o-mini")
    run.check_truth_matches_spans()
    change = run.truth["changes"][0]
    before, after = run.around(change, change["key"])
    assert {c.response_model for c in after if not c.is_error} == {"gpt-4o-2024-08-06"}
    assert _seen(before) <= _fingerprints("openai/gpt-4o")
    assert _seen(after) <= _fingerprints("openai/gpt-4o-mini")
    assert change["signals"]["decode_rate"] < 0 and change["signals"]["quality"] < 0


def test_honest_failover(tmp_path: Path) -> None:
    run = Run(tmp_path, "honest-failover", "30%")
    run.check_truth_matches_spans()
    before, after = run.around(run.truth["changes"][0], run.truth["changes"][0]["key"])
    assert _share(before, "gpt-4-turbo-2024-04-09") == 0
    assert 0.2 < _share(after, "gpt-4-turbo-2024-04-09") < 0.4


def test_router_drift(tmp_path: Path) -> None:
    run = Run(tmp_path, "router-drift", "10>40")
    run.check_truth_matches_spans()
    change = run.truth["changes"][0]
    before, after = run.around(change, change["key"])
    cheap = "openai/gpt-4o-mini-2024-07-18"
    assert 0.02 < _share(before, cheap) < 0.2  # binomial noise on a quiet test run
    assert 0.3 < _share(after, cheap) < 0.5
    assert change["signals"]["model_share"] >= 0.2


def test_finetune_repoint(tmp_path: Path) -> None:
    run = Run(tmp_path, "finetune-repoint", "medium")
    run.check_truth_matches_spans()
    change = run.truth["changes"][0]
    before, after = run.around(change, change["key"])
    assert {c.response_model for c in before + after if not c.is_error} == {FT_MODEL}
    assert not _seen(before) & _fingerprints("openai/gpt-4o-mini")
    assert _seen(after) <= _fingerprints("openai/gpt-4o-mini")
    assert change["signals"]["output_tokens"] > 0.1 and change["signals"]["quality"] < 0
    assert {c.tenant for c in before} == {"acme"}


def test_quantized_provider(tmp_path: Path) -> None:
    run = Run(tmp_path, "quantized-provider", "int4")
    run.check_truth_matches_spans()
    signals = run.truth["changes"][0]["signals"]
    assert 0.4 < signals["decode_rate"] < 1.0
    assert signals["finish_reason"] > 0.02 and signals["output_tokens"] > 0.05


def test_provider_variance(tmp_path: Path) -> None:
    run = Run(tmp_path, "provider-variance", "together>fireworks")
    run.check_truth_matches_spans()
    change = run.truth["changes"][0]
    before, after = run.around(change, change["key"])
    assert {c.response_model for c in before + after if not c.is_error} == {
        "meta-llama/llama-2-70b-chat"}
    expected = (CATALOG.model("fireworks_ai/llama-2-70b").decode_tps.median
                / CATALOG.model("together_ai/llama-2-70b").decode_tps.median)
    assert 1 + change["signals"]["decode_rate"] == pytest.approx(expected, rel=0.25)


def test_size_swap(tmp_path: Path) -> None:
    run = Run(tmp_path, "size-swap", "anyscale")
    run.check_truth_matches_spans()
    signals = run.truth["changes"][0]["signals"]
    assert signals["decode_rate"] > 0.5  # anyscale's 13B decodes about twice as fast
    assert signals["quality"] < -0.1


def test_eval_vs_prod(tmp_path: Path) -> None:
    run = Run(tmp_path, "eval-vs-prod", "from-start")
    run.check_truth_matches_spans()
    assert run.truth["changes"] == []
    divergence = run.truth["divergences"][0]
    assert divergence["key"] == {"request_model": "gpt-4o"}
    prod = run.of({"surface": "chat-assistant", "environment": "prod"})
    evaluation = run.of({"surface": "chat-assistant", "environment": "eval"})
    assert prod and evaluation
    assert _seen(prod) <= _fingerprints("openai/gpt-4o-mini")
    assert _seen(evaluation) <= _fingerprints("openai/gpt-4o")
    assert {c.response_model for c in prod + evaluation if not c.is_error} == {
        "gpt-4o-2024-08-06"}


def test_eval_vs_prod_repointed_is_also_a_change(tmp_path: Path) -> None:
    run = Run(tmp_path, "eval-vs-prod", "prod-repointed")
    run.check_truth_matches_spans()
    change = run.truth["changes"][0]
    assert change["key"]["environment"] == "prod"
    assert run.truth["divergences"][0]["from"] == change["at"]


def test_traffic_mix_is_benign(tmp_path: Path) -> None:
    run = Run(tmp_path, "traffic-mix", "chat-2x")
    run.check_truth_matches_spans()
    assert run.truth["changes"] == []
    growth = run.truth["benign"][0]
    before, after = run.around(growth, growth["key"])
    ratio = statistics.median(c.prompt_chars or 0 for c in after) / statistics.median(
        c.prompt_chars or 0 for c in before)
    assert ratio == pytest.approx(2.0, rel=0.2)
    assert _seen(after) <= _fingerprints("openai/gpt-4o")
    assert growth["signals"] == signal_shifts(before, after)
    assert abs(growth["signals"]["tokenizer"]) < 0.02  # the model did not change
    assert growth["signals"]["ttft"] > 0.05 and growth["signals"]["cost"] > 0.3


def test_provider_incident_slows_every_model_of_the_provider(tmp_path: Path) -> None:
    run = Run(tmp_path, "provider-incident", "openai-2x")
    run.check_truth_matches_spans()
    incident = run.truth["benign"][0]
    start, end = parse_time(incident["from"]), parse_time(incident["to"])
    assert end - start == 40 * 60
    openai = [c for c in run.calls if c.provider == "openai" and not c.is_error]
    assert len({c.surface for c in openai}) >= 4

    def median_decode(calls: list[LlmCall]) -> float:
        return statistics.median(c.decode_rate for c in calls if c.decode_rate)

    during = median_decode(run.between(openai, start, end))
    normal = median_decode(run.between(openai, start - 2 * 3600, start))
    assert normal / during == pytest.approx(2.0, rel=0.25)
    others = [c for c in run.calls if c.provider != "openai" and not c.is_error]
    assert median_decode(run.between(others, start, end)) == pytest.approx(
        median_decode(run.between(others, start - 2 * 3600, start)), rel=0.35)


def test_stationary_month_has_no_change(tmp_path: Path) -> None:
    run = Run(tmp_path, "stationary-month", "plain")
    assert run.truth["changes"] == [] and run.truth["benign"] == []
    assert len(run.truth["keys"]) == 10
    served = Counter((c.surface, c.response_model) for c in run.calls if not c.is_error)
    assert len({surface for surface, _ in served}) == len(served)  # one model per surface


def test_fingerprint_rotation_is_benign_and_provider_wide(tmp_path: Path) -> None:
    run = Run(tmp_path, "stationary-month", "fingerprint-rotation")
    assert run.truth["changes"] == []
    rotations = run.truth["benign"]
    assert len(rotations) == 2 and len({r["from"] for r in rotations}) == 1
    for rotation in rotations:
        assert rotation["signals"]["fingerprint"] > 0.5
        assert abs(rotation["signals"]["decode_rate"]) < 0.15
