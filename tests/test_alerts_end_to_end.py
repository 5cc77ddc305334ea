"""Alert delivery's "done when", end to end: ``swapwatch simulate`` → ``swapwatch detect
--input`` with PagerDuty and Slack pointed at the local fakes (real HTTP, real courier
threads, wall-clock pacing; every alerting decision in event time).

The scenario is ``provider-variance`` (a gateway silently moves Llama-2 70B to another host:
a timing-only ``swap``) with the ``honest-failover`` change of ``chat-assistant`` added (an
``identity`` alert, another group), on a reduced fleet: the two changed keys plus two benign
keys, so that generation and one detection pass take a few seconds on a loaded machine.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fakes.alerts import ROUTING_KEY
from fakes.base import Received, Reply
from fakes.pagerduty import FakePagerDuty, throttled
from fakes.slack import FakeSlack, rate_limited
from swapwatch.detector import cli
from swapwatch.detector.alerts.alert import Alert
from swapwatch.detector.alerts.outbox import Outbox
from swapwatch.detector.alerts.statedb import AlertStateDb
from swapwatch.detector.simulator import run as simulator_run
from swapwatch.detector.simulator.scenario import Scenario
from swapwatch.detector.simulator.suite import build_scenario

SCENARIO, VARIANT, SEED, DAYS = "provider-variance", "together>fireworks", 1, 2
FAILOVER = "100%"  # honest-failover variant folded in: an identity alert that stays firing
BENIGN_SURFACES = {"classify", "translate"}  # unchanged keys that must page nobody
FAILOVER_RATE_SCALE = 0.25  # the failover key's traffic (identity fires on the first mismatch)
STABLE_FOR = "6h"  # alerts.resolve.swap_stable_for: the swap resolves within the scenario
GROUP_BY = ("kind", "provider", "request_model", "environment")  # alerts.route default


# --- the scenario and the detect runs ----------------------------------------------------


def reduced_scenario(name: str, **kwargs: Any) -> Scenario:
    """The suite's scenario, on the changed keys and a few benign ones, plus a failover."""
    scenario = build_scenario(name, **kwargs)
    failover = build_scenario("honest-failover", variant=FAILOVER, seed=SEED, days=DAYS)
    changed = {c.key for c in scenario.changes}
    keys = [k for k in scenario.keys if k.name in changed or k.surface in BENIGN_SURFACES]
    failing = {c.key for c in failover.changes}
    keys += [dataclasses.replace(k, rate_per_day=k.rate_per_day * FAILOVER_RATE_SCALE)
             for k in failover.keys if k.name in failing]
    return dataclasses.replace(scenario, keys=tuple(keys),
                               changes=scenario.changes + failover.changes)


@pytest.fixture(scope="module")
def scenario_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scenario")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(simulator_run, "build_scenario", reduced_scenario)
        assert cli.main(["simulate", "--scenario", SCENARIO, "--variant", VARIANT,
                         "--seed", str(SEED), "--days", str(DAYS), "--out", str(out)]) == 0
    return out


def write_config(path: Path, pd: FakePagerDuty, slack: FakeSlack, state_dir: Path,
                 pagerduty: dict[str, Any] | None = None,
                 slack_extra: dict[str, Any] | None = None) -> Path:
    fast = {"initial_backoff": "1s", "max_backoff": "4s", "max_attempts": 6,
            "request_timeout": "5s"}
    alerts = {
        "pagerduty": {"routing_key": ROUTING_KEY, "url": pd.url, "retry": fast,
                      **(pagerduty or {})},
        "slack": {"webhook_url": slack.url, "retry": fast, **(slack_extra or {})},
        "state_dir": str(state_dir),
        "report_base_url": "https://swapwatch.example",
        # one firing notification per group in a 2-day replay: no daily repeat
        "route": {"group_wait": "30s", "group_interval": "5m", "repeat_interval": "7d"},
        "resolve": {"swap_stable_for": STABLE_FOR},
    }
    path.write_text(yaml.safe_dump({"alerts": alerts}))
    return path


def detect(scenario: Path, config: Path, alerts_out: Path) -> list[Alert]:
    assert cli.main(["detect", "--input", str(scenario / "spans.jsonl"),
                     "--alerts-out", str(alerts_out), "--config", str(config)]) == 0
    return [Alert.model_validate_json(line) for line in alerts_out.read_text().splitlines()]


@dataclasses.dataclass
class Run:
    alerts: list[Alert]  # as written to --alerts-out
    pd: FakePagerDuty
    slack: FakeSlack
    state_dir: Path


@pytest.fixture(scope="module")
def first_run(scenario_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("first")
    with FakePagerDuty() as pd, FakeSlack() as slack:
        config = write_config(tmp / "swapwatch.yaml", pd, slack, tmp / "state")
        alerts = detect(scenario_dir, config, tmp / "alerts.jsonl")
    return Run(alerts, pd, slack, tmp / "state")


def truth_changes(scenario: Path) -> list[dict[str, Any]]:
    return json.loads((scenario / "truth.json").read_text())["changes"]


def truth_keys(scenario: Path) -> list[dict[str, Any]]:
    return [k["key"] for k in json.loads((scenario / "truth.json").read_text())["keys"]]


def matches(alert: Alert, key: dict[str, Any]) -> bool:
    labels = alert.key.labels()
    return all(labels.get(name) == value for name, value in key.items() if value is not None)


def firing(alerts: list[Alert]) -> list[Alert]:
    return [a for a in alerts if a.status == "firing"]


def group_of(alert: Alert) -> tuple[str | None, ...]:
    labels = {"kind": alert.kind, **alert.key.labels()}
    return tuple(labels.get(name) for name in GROUP_BY)


# --- one trigger per change, with evidence; one Slack message per group; resolve ---------


def test_each_change_raises_one_alert_and_benign_keys_none(first_run, scenario_dir):
    changes = truth_changes(scenario_dir)
    raised = firing(first_run.alerts)
    assert {a.kind for a in raised} == {"swap", "identity"}  # the scenario's premise
    for change in changes:
        assert len([a for a in raised if matches(a, change["key"])]) == 1, change["key"]
    assert all(any(matches(a, c["key"]) for c in changes) for a in raised)
    benign = [k for k in truth_keys(scenario_dir) if k["surface"] in BENIGN_SURFACES]
    assert len(benign) == len(BENIGN_SURFACES)
    assert not [a for a in first_run.alerts for k in benign if matches(a, k)]


def test_pagerduty_gets_exactly_one_trigger_per_change_with_its_evidence(first_run):
    pd, raised = first_run.pd, firing(first_run.alerts)
    triggers = pd.accepted("trigger")
    assert Counter(e["dedup_key"] for e in triggers) == Counter(a.dedup_key for a in raised)
    assert pd.pages == len(raised) and all(r.reply.status == 202 for r in pd.received)
    by_key = {e["dedup_key"]: e for e in triggers}
    for alert in raised:
        payload = by_key[alert.dedup_key]["payload"]
        details = payload["custom_details"]
        assert payload["class"] == alert.kind and payload["summary"] == alert.summary
        assert details["series"] == alert.key.labels()
        assert details["changed_at"] == alert.changed_at.isoformat()
        assert details["evidence"] == json.loads(alert.model_dump_json())["evidence"]
        assert by_key[alert.dedup_key]["links"][0]["href"].endswith("/alerts/"
                                                                    + alert.dedup_key)
    [swap] = [a for a in raised if a.kind == "swap"]
    signals = by_key[swap.dedup_key]["payload"]["custom_details"]["signals"]
    assert set(signals) == set(swap.signals) and len(signals) >= 3
    for name, row in signals.items():  # before/after of every shifted signal, as numbers
        assert float(row["before"]) == pytest.approx(swap.evidence[name]["before"], rel=1e-3)
        assert float(row["after"]) == pytest.approx(swap.evidence[name]["after"], rel=1e-3)
    [identity] = [a for a in raised if a.kind == "identity"]
    identity_details = by_key[identity.dedup_key]["payload"]["custom_details"]
    assert identity_details["evidence"]["served_model"] == identity.evidence["served_model"]


def test_slack_gets_one_message_per_group(first_run):
    raised = firing(first_run.alerts)
    messages = first_run.slack.messages()
    announced = [m for m in messages if m["text"].startswith(":red_circle:")]
    assert len({group_of(a) for a in raised}) == len(raised) == 2  # two groups here
    assert len(announced) == len(raised)
    for alert in raised:
        [message] = [m for m in announced if alert.summary in m["text"]]
        assert any(alert.dedup_key in b.get("text", {}).get("text", "")
                   for b in message["blocks"])  # the evidence report link
    [swap] = [a for a in raised if a.kind == "swap"]
    [swap_message] = [m for m in announced if swap.summary in m["text"]]
    assert all(f"{name} ?" not in swap_message["text"] for name in swap.signals)
    # the resolve of the swap is the only other message
    [resolved] = [m for m in messages if m not in announced]
    assert resolved["text"].startswith(":white_check_mark:") and swap.summary in resolved["text"]


def test_stable_new_regime_resolves_the_pagerduty_incident(first_run):
    pd, raised = first_run.pd, firing(first_run.alerts)
    [swap] = [a for a in raised if a.kind == "swap"]
    [resolve] = pd.accepted("resolve")
    assert resolve["dedup_key"] == swap.dedup_key and resolve["routing_key"] == ROUTING_KEY
    assert pd.incidents[swap.dedup_key].status == "resolved"
    actions = [e["event_action"] for e in pd.incidents[swap.dedup_key].events]
    assert actions == ["trigger", "resolve"]
    closed_by_detection = {a.dedup_key for a in first_run.alerts if a.status == "resolved"}
    for alert in raised:
        if alert.kind != "swap":  # identity resolves only when detection says so
            expected = "resolved" if alert.dedup_key in closed_by_detection else "triggered"
            assert pd.incidents[alert.dedup_key].status == expected


def outbox_state(state_dir: Path) -> tuple[int, list[dict[str, Any]]]:
    """Messages still queued and dead letters in a state directory."""
    db = AlertStateDb(state_dir)
    try:
        outbox = Outbox(db)
        return outbox.pending(), outbox.dead_letters()
    finally:
        db.close()


def test_a_restart_on_the_same_state_dir_pages_nobody(first_run, scenario_dir, tmp_path):
    assert outbox_state(first_run.state_dir) == (0, [])
    with FakePagerDuty() as pd, FakeSlack() as slack:
        config = write_config(tmp_path / "swapwatch.yaml", pd, slack, first_run.state_dir)
        again = detect(scenario_dir, config, tmp_path / "alerts.jsonl")
    # detection raised the same alerts again; the notification log and the resolved
    # changes kept on disk stop them
    assert [a.dedup_key for a in again] == [a.dedup_key for a in first_run.alerts]
    assert pd.received == [] and slack.received == []


# --- 429 then 202: nothing lost, paced ------------------------------------------------------


def retry_after(seconds: int) -> Reply:
    return dataclasses.replace(throttled(), headers={"Retry-After": str(seconds)})


PD_EVENTS_PER_MINUTE = 40  # one event per 1.5 s
PD_BACKOFF_S = 2.0  # first backoff after a 429 without Retry-After
PD_RETRY_AFTER_S = 3
SLACK_PER_SECOND = 0.5
TOLERANCE_S = 0.5  # arrival times at the fake jitter on a loaded machine


def gaps(received: list[Received]) -> list[float]:
    return [b.at - a.at for a, b in itertools.pairwise(received)]


@pytest.fixture
def throttled_fakes() -> Iterator[tuple[FakePagerDuty, FakeSlack]]:
    # the fakes also enforce the documented rates: a request too soon is answered 429
    with (FakePagerDuty(limit=(1, 60 / PD_EVENTS_PER_MINUTE - TOLERANCE_S)) as pd,
          FakeSlack(enforce_rate=True, min_interval=1 / SLACK_PER_SECOND - TOLERANCE_S)
          as slack):
        yield pd, slack


def test_429_then_202_loses_nothing_and_respects_the_pacing(scenario_dir, tmp_path,
                                                              throttled_fakes):
    pd, slack = throttled_fakes
    pd.script(throttled(), retry_after(PD_RETRY_AFTER_S), throttled())
    slack.script(rate_limited(1))
    config = write_config(
        tmp_path / "swapwatch.yaml", pd, slack, tmp_path / "state",
        pagerduty={"events_per_minute": PD_EVENTS_PER_MINUTE, "burst": 1,
                   "retry": {"initial_backoff": PD_BACKOFF_S, "multiplier": 1.0,
                             "max_attempts": 6, "request_timeout": "5s"}},
        slack_extra={"messages_per_second": SLACK_PER_SECOND})
    alerts = detect(scenario_dir, config, tmp_path / "alerts.jsonl")
    raised = firing(alerts)
    [swap] = [a for a in raised if a.kind == "swap"]

    # every trigger arrived exactly once, then the resolve; nothing left behind
    assert Counter(e["dedup_key"] for e in pd.accepted("trigger")) == Counter(
        a.dedup_key for a in raised)
    assert [e["dedup_key"] for e in pd.accepted("resolve")] == [swap.dedup_key]
    assert pd.pages == len(raised) and pd.incidents[swap.dedup_key].status == "resolved"
    assert outbox_state(tmp_path / "state") == (0, [])

    # the three scripted 429s were retried with the same event; no other 429 was provoked
    statuses = [r.reply.status for r in pd.received]
    assert statuses == [429, 429, 429] + [202] * (len(raised) + 1)
    assert len({r.json()["dedup_key"] for r in pd.received[:4]}) == 1
    pd_gaps = gaps(pd.received)
    assert pd_gaps[0] >= PD_BACKOFF_S - TOLERANCE_S  # 429 without Retry-After: backoff
    assert pd_gaps[1] >= PD_RETRY_AFTER_S - TOLERANCE_S  # Retry-After honoured
    assert pd_gaps[2] >= PD_BACKOFF_S - TOLERANCE_S
    assert min(pd_gaps) >= 60 / PD_EVENTS_PER_MINUTE - TOLERANCE_S  # events_per_minute

    # Slack: one message per group and the resolve, the scripted 429 retried, paced
    slack_statuses = [r.reply.status for r in slack.received]
    assert slack_statuses == [429] + [200] * (len(raised) + 1)
    assert min(gaps(slack.received)) >= 1 / SLACK_PER_SECOND - TOLERANCE_S
