"""Scoring rules of docs/benchmark.md as table tests over hand-made alerts and truths."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from swapwatch.detector import cli
from swapwatch.detector.alerts.alert import Alert, AlertKey
from swapwatch.detector.simulator.scoring import (
    percentile,
    render_table,
    score_run,
    summarize_by_scenario,
)

AT = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
KEY = {"surface": "chat", "request_model": "gpt-4o"}


def truth(**extra: object) -> dict:
    base = {
        "scenario": "silent-downgrade", "variant": "v", "seed": 0, "days": 3.0,
        "keys": [{"key": {}} for _ in range(5)],
        "changes": [{"at": "2026-03-02T14:00:00Z", "key": KEY, "kind": "silent-downgrade",
                     "goal": True, "arrivals_after_s": [5.0, 50.0, 500.0, 5000.0]}],
        "benign": [], "divergences": [],
    }
    base.update(extra)
    return base


def alert(after_s: float, kind: str = "swap", status: str = "firing",
          **key: str | None) -> Alert:
    t = AT + timedelta(seconds=after_s)
    fields = {"service": "api", "provider": "openai", "environment": "prod", **KEY, **key}
    return Alert(kind=kind, status=status, key=AlertKey(**fields),  # type: ignore[arg-type]
                 detected_at=t, changed_at=t, summary="")


@pytest.mark.parametrize(("alerts", "caught", "delay_requests", "false_alarms"), [
    ([], False, None, 0),
    ([alert(0)], True, 0, 0),  # at the change itself
    ([alert(60)], True, 2, 0),
    ([alert(60, kind="identity")], True, 2, 0),
    ([alert(86400)], True, 4, 0),  # exactly 24 h after
    ([alert(86401)], False, None, 1),  # too late: a false alarm
    ([alert(-1)], False, None, 1),  # before the change
    ([alert(60, surface="search")], False, None, 1),  # another key
    ([alert(60, kind="incident")], False, None, 0),  # incidents are never false alarms
    ([alert(60, kind="divergence")], False, None, 0),
    ([alert(60, status="resolved")], False, None, 0),  # a resolution is not an alert
    ([alert(600), alert(60)], True, 2, 0),  # the first alert counts, order-independent
])
def test_change_scoring(alerts: list[Alert], caught: bool, delay_requests: int | None,
                        false_alarms: int) -> None:
    score = score_run(truth(), alerts)
    outcome = score.changes[0]
    assert (outcome.caught, outcome.delay_requests, score.false_alarms) == (
        caught, delay_requests, false_alarms)
    if caught:
        assert outcome.delay_s == min(
            (a.detected_at - AT).total_seconds() for a in alerts if a.kind in ("swap", "identity"))


def test_false_alarms_are_per_key_month() -> None:
    score = score_run(truth(changes=[], days=30.0), [alert(60), alert(7200, surface="x")])
    assert score.false_alarms == 2 and score.key_months == 5.0
    row = summarize_by_scenario([score])[0]
    assert row.false_alarms_per_key_month == pytest.approx(0.4)
    assert row.precision == 0.0 and row.recall is None


def test_truth_key_may_name_the_environment() -> None:
    t = truth(changes=[{**truth()["changes"][0], "key": {**KEY, "environment": "prod"}}])
    assert score_run(t, [alert(60, environment="eval")]).changes[0].caught is False
    assert score_run(t, [alert(60)]).changes[0].caught is True


def test_divergences_and_incidents_are_scored_apart() -> None:
    t = truth(changes=[], divergences=[
        {"from": "2026-03-02T14:00:00Z", "key": {"request_model": "gpt-4o"}}],
        benign=[{"from": "2026-03-02T14:00:00Z", "to": "2026-03-02T14:40:00Z",
                 "kind": "provider-incident", "provider": "openai"}])
    score = score_run(t, [alert(100, kind="divergence"), alert(600, kind="incident")])
    assert (score.divergences_caught, score.incidents_caught, score.false_alarms) == (1, 1, 0)
    late = score_run(t, [alert(3 * 3600, kind="incident")])
    assert late.incidents_caught == 0


def test_summary_delays_and_goal_recall() -> None:
    runs = [score_run(truth(), [alert(s)]) for s in (0, 60, 600, 6000)]
    runs.append(score_run(truth(), []))
    row = summarize_by_scenario(runs)[0]
    assert (row.changes, row.caught, row.recall, row.goal_recall) == (5, 4, 0.8, 0.8)
    assert row.delay_requests_median == percentile([0, 2, 3, 4], 0.5) == 2.5
    assert row.delay_s_p90 == percentile([0, 60, 600, 6000], 0.9)
    table = render_table(summarize_by_scenario(runs))
    assert table.splitlines()[0].startswith("| scenario")
    assert "overall" in table and "0.80" in table


def test_score_command_prints_table_and_json(tmp_path: Path, capsys) -> None:
    truth_path, alerts_path = tmp_path / "truth.json", tmp_path / "alerts.jsonl"
    truth_path.write_text(json.dumps(truth()))
    alerts_path.write_text(alert(60).to_json_line() + "\n" + alert(60, surface="x")
                           .to_json_line() + "\n")
    assert cli.main(["score", "--truth", str(truth_path), "--alerts", str(alerts_path)]) == 0
    assert "silent-downgrade" in capsys.readouterr().out
    assert cli.main(["score", "-t", str(truth_path), "-a", str(alerts_path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["recall"] == 1.0 and rows[0]["false_alarms"] == 1
    assert rows[0]["delay_requests_median"] == 2
