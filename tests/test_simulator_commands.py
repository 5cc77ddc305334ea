"""`swapwatch simulate` and `swapwatch benchmark` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from swapwatch.detector import cli
from swapwatch.detector.simulator.suite import SUITE


def test_simulate_list_names_every_scenario(capsys) -> None:
    assert cli.main(["simulate", "--list"]) == 0
    out = capsys.readouterr().out
    for name, spec in SUITE.items():
        assert name in out and spec.variants[-1] in out


def test_simulate_writes_spans_and_truth(tmp_path: Path) -> None:
    status = cli.main(["simulate", "--scenario", "honest-failover", "--variant", "100%",
                       "--seed", "4", "--days", "1.5", "--rate-scale", "0.1",
                       "--dialect", "openinference", "--out", str(tmp_path)])
    assert status == 0
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["scenario"] == "honest-failover" and truth["dialect"] == "openinference"
    assert truth["changes"][0]["kind"] == "honest-failover"
    first = json.loads((tmp_path / "spans.jsonl").read_text().splitlines()[0])
    span = first["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span["name"] == "ChatCompletion"


def test_simulate_refuses_unknown_scenarios(tmp_path: Path, capsys) -> None:
    assert cli.main(["simulate", "--scenario", "nope", "--out", str(tmp_path)]) == 2
    assert "known:" in capsys.readouterr().err


def test_quick_benchmark_runs_detect_and_writes_results(tmp_path: Path, capsys) -> None:
    results = tmp_path / "BENCHMARKS.md"
    status = cli.main(["benchmark", "--quick", "--scenarios", "honest-failover,traffic-mix",
                       "--rate-scale", "0.2", "--work", str(tmp_path / "work"),
                       "--results-md", str(results)])
    assert status == 0
    table = capsys.readouterr().out
    assert "honest-failover" in table and "traffic-mix" in table and "overall" in table
    assert (tmp_path / "work" / "honest-failover" / "5pct" / "seed0" / "alerts.jsonl").exists()
    text = results.read_text()
    assert "swapwatch benchmark --scenarios honest-failover,traffic-mix --quick" in text
    assert table.strip() in text
