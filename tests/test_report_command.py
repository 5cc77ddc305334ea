"""``swapwatch report``: the daily model-share text report, and the command's inputs and errors."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from swapwatch.detector.alerts.alert import Alert, AlertKey
from swapwatch.detector.cli import main


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """From ~17:00 on the first day, 30% of chat-assistant's gpt-4o calls fail over."""
    out = tmp_path_factory.mktemp("failover")
    assert main(["simulate", "--scenario", "honest-failover", "--variant", "30%", "--seed", "4",
                 "--days", "1.5", "--rate-scale", "0.15", "--out", str(out)]) == 0
    return out


def _surface_table(text: str, surface: str) -> list[list[str]]:
    block = text.split(f"surface {surface}: served-model share per UTC day\n", 1)[1]
    return [line.split() for line in block.split("\n\n", 1)[0].splitlines()]


def test_model_share_text_per_surface_and_day(scenario: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    truth = json.loads((scenario / "truth.json").read_text())
    (change,) = truth["changes"]
    changed_on = change["at"][:10]
    assert main(["report", "--input", str(scenario / "spans.jsonl"), "--model-share"]) == 0
    out = capsys.readouterr().out
    surfaces = re.findall(r"^surface (\S+): served-model share per UTC day$", out, re.M)
    assert len(surfaces) == 8 and "chat-assistant" in surfaces
    for surface in surfaces:
        header, *rows = _surface_table(out, surface)
        assert header[:2] == ["day", "calls"]
        for row in rows:
            shares = [float(cell.rstrip("%")) for cell in row[2:]]
            assert sum(shares) == pytest.approx(100.0, abs=0.3)  # shares, not counts
    header, *rows = _surface_table(out, "chat-assistant")
    fallback = next(i for i, name in enumerate(header) if name.startswith("gpt-4-turbo"))
    after = [row for row in rows if row[0] > changed_on]
    assert after, rows
    # the day after the failover began, about 30% of calls were served by the fallback
    assert 18.0 < float(after[0][fallback].rstrip("%")) < 42.0
    before = next(row for row in rows if row[0] == changed_on)
    assert float(before[fallback].rstrip("%")) < float(after[0][fallback].rstrip("%"))
    assert not list(tmp_path.iterdir())  # --model-share alone writes no HTML


def test_alerts_file_replaces_the_replayed_alerts(scenario: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    alert = Alert(kind="swap", key=AlertKey(service="search", surface="summarize",
                                            provider="openai", request_model="gpt-4-turbo",
                                            environment="prod"),
                  signals=["decode_rate", "output_tokens", "cost"], changed_at=at,
                  detected_at=at.replace(hour=10), summary="sent by the live detector")
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_text(alert.to_json_line() + "\nnot an alert\n")
    monkeypatch.chdir(tmp_path)  # no --out: report.html in the working directory
    assert main(["report", "--input", str(scenario / "spans.jsonl"), "--alerts", str(alerts),
                 "--title", "Tuesday's traffic", "--max-points", "16"]) == 0
    text = (tmp_path / "report.html").read_text()
    assert "<title>Tuesday&#x27;s traffic</title>" in text
    assert "sent by the live detector" in text and 'class="kind identity"' not in text
    assert 'href="#key-search-summarize-openai-gpt-4-turbo-prod"' in text
    figures = json.loads(re.search(r'id="sw-data">(.*?)</script>', text, re.S).group(1))  # type: ignore[union-attr]
    assert all(fig["x"] is None or len(fig["x"]) <= 16 for fig in figures)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--state", "{tmp}/state", "--model-share"], 2, "--model-share needs --input"),
        (["--input", "{tmp}/missing.jsonl"], 2, "cannot read"),
        (["--input", "{tmp}/garbage.jsonl", "--out", "{tmp}/r.html"], 1, "nothing readable"),
        (["--state", "{tmp}/nowhere"], 1, "not a directory"),
        (["--state", "{tmp}/state"], 1, "no partition state files"),
        (["--state", "{tmp}/corrupt"], 1, "skipped"),
        (["--input", "{tmp}/garbage.jsonl", "--max-points", "2"], 2, "max_points"),
    ],
)
def test_errors_are_reported_with_an_exit_code(args: list[str], code: int, message: str,
                                               tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "otlp_spans-0.state").write_bytes(b"not a pickle")
    (tmp_path / "garbage.jsonl").write_text("{not json\n[1, 2]\n")
    argv = ["report", *(a.replace("{tmp}", str(tmp_path)) for a in args)]
    assert main(argv) == code
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()
