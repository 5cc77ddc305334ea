"""The shipped model profiles: built reproducibly from ../shared/data, faithful to it."""

from __future__ import annotations

import json
import random
import statistics
from pathlib import Path

import pytest
from swapwatch.detector.simulator import build_profiles
from swapwatch.detector.simulator.profiles import PROFILES_PATH, QuantileTable, load_catalog

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def test_rebuilding_from_the_data_gives_the_committed_file() -> None:
    shipped = PROFILES_PATH.read_text()
    if DATA.is_dir():  # CI always has ../shared beside the repository
        assert build_profiles.render(build_profiles.build(DATA)) == shipped
        rows = json.loads((DATA / "llmperf-leaderboard" / "anyscale_70b.json").read_text())
        ttft = statistics.median(r["ttft_s"] for r in rows if not r.get("error_code"))
        assert load_catalog().model("anyscale/llama-2-70b").ttft_s.median == pytest.approx(
            ttft, rel=0.01)
    document = json.loads(shipped)
    assert document["format"] == build_profiles.FORMAT_VERSION
    for name in ("llm-speed-benchmark", "llmperf-leaderboard", "azure-llm-2023", "splitwise"):
        source = document["sources"][name]
        assert source["license"] and source["repository"].startswith("https://github.com/")
        assert source["citation"]


def test_profiles_are_quantile_tables_not_rows() -> None:
    document = json.loads(PROFILES_PATH.read_text())
    for profile in document["models"].values():
        for metric in ("ttft_s", "decode_tps", "output_ratio"):
            table = profile[metric]
            assert len(table) == build_profiles.N_QUANTILES
            assert table == sorted(table)


def test_every_model_and_host_in_the_data_has_a_profile() -> None:
    models = load_catalog().models
    for name in ("gpt-4o", "gpt-4o-mini", "gpt-4", "gpt-4-turbo", "gpt-3.5-turbo"):
        assert f"openai/{name}" in models
    for name in ("gcp.gemini/gemini-1.5-pro", "groq/llama-3.1-70b-versatile",
                 "mistral_ai/mistral-large-2407", "mistral_ai/open-mistral-nemo-2407"):
        assert name in models
    hosts = {p.provider for p in models.values() if p.model == "llama-2-70b"}
    assert len(hosts) == 8
    assert {p.model for p in models.values() if p.provider == "together_ai"} == {
        "llama-2-7b", "llama-2-13b", "llama-2-70b"}


def test_real_differences_survive_gpt4o_vs_mini_and_70b_vs_13b() -> None:
    c = load_catalog()
    # gpt-4o decodes faster than gpt-4o-mini in the Aug 2024 measurements, and talks more
    gpt4o, mini = c.model("openai/gpt-4o"), c.model("openai/gpt-4o-mini")
    assert gpt4o.decode_tps.median > mini.decode_tps.median
    assert c.model("openai/gpt-4o").verbosity > c.model("openai/gpt-4o-mini").verbosity
    # anyscale serves 13B about twice as fast as 70B; fireworks' are nearly the same
    anyscale = c.model("anyscale/llama-2-13b").decode_tps.median / c.model(
        "anyscale/llama-2-70b").decode_tps.median
    fireworks = c.model("fireworks_ai/llama-2-13b").decode_tps.median / c.model(
        "fireworks_ai/llama-2-70b").decode_tps.median
    assert anyscale > 1.7 and 0.9 < fireworks < 1.15


@pytest.mark.parametrize(("values", "u", "expected"), [
    ((1.0, 2.0, 10.0), 0.0, 1.0),
    ((1.0, 2.0, 10.0), 0.5, 2.0),
    ((1.0, 2.0, 10.0), 0.75, 6.0),
    ((1.0, 2.0, 10.0), 1.0, 10.0),
    ((1.0, 2.0, 10.0), 1.5, 10.0),
    ((5.0, 5.0), 0.3, 5.0),
])
def test_quantile_table_inverse_cdf(values: tuple[float, ...], u: float, expected: float) -> None:
    assert QuantileTable(values).sample(u) == pytest.approx(expected)


def test_sampling_reproduces_the_table_including_its_tails() -> None:
    table = load_catalog().model("replicate/llama-2-70b").ttft_s  # heavy-tailed host
    rng = random.Random(5)
    draws = sorted(table.sample(rng.random()) for _ in range(20000))
    assert statistics.median(draws) == pytest.approx(table.median, rel=0.05)
    assert draws[-1] > table.sample(0.97)  # the top tail is reached
    assert draws[-1] <= table.values[-1]


def test_quantile_table_rejects_unsorted_values() -> None:
    with pytest.raises(ValueError):
        QuantileTable((2.0, 1.0))
