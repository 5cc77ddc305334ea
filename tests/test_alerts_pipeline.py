"""The alert pipeline end to end against the local PagerDuty and Slack fakes (event time)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes.alerts import T0, at, destinations, incident, swap
from fakes.base import Reply
from fakes.pagerduty import FakePagerDuty, server_error
from fakes.slack import FakeSlack
from swapwatch.detector.alerts.acks import AckStore
from swapwatch.detector.alerts.config import AlertsConfig
from swapwatch.detector.alerts.dispatcher import AlertDispatcher
from swapwatch.detector.alerts.labels import parse_matcher
from swapwatch.detector.alerts.silences import SilenceStore
from swapwatch.detector.alerts.timing import ManualClock


@pytest.fixture
def pd() -> Iterator[FakePagerDuty]:
    with FakePagerDuty() as fake:
        yield fake


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def dispatcher(pd: FakePagerDuty, slack: FakeSlack, state_dir: Path | None = None,
               **overrides: Any) -> AlertDispatcher:
    raw = destinations(pd.url, slack.url)
    raw.update(overrides)
    return AlertDispatcher(AlertsConfig.model_validate(raw), state_dir, clock=ManualClock(),
                           background=False, environ={})


def step(d: AlertDispatcher, seconds: float) -> None:
    d.advance(at(seconds))
    d.flush()


def test_one_trigger_per_change_with_evidence_and_one_slack_message_per_group(pd, slack):
    d = dispatcher(pd, slack)
    d.submit([swap("chat", detected=0), swap("autocomplete", detected=5)])
    step(d, 29)
    assert pd.received == [] and slack.received == []  # group_wait runs in event time
    step(d, 30)
    triggers = pd.accepted("trigger")
    assert sorted(e["dedup_key"] for e in triggers) == [
        "swap/api/autocomplete/openai/gpt-4o/prod", "swap/api/chat/openai/gpt-4o/prod"]
    assert pd.pages == 2
    event = triggers[0]
    details = event["payload"]["custom_details"]
    assert details["signals"]["decode_rate"] == {"before": "92", "after": "41.5"}
    assert details["evidence"]["regime"]["fingerprint"] == "fp_new"
    assert event["payload"]["class"] == "swap" and event["payload"]["component"] == "gpt-4o"
    assert event["links"][0]["href"].startswith("https://swapwatch.example/alerts/swap/")
    [message] = slack.messages()
    assert "chat" in message["text"] and "autocomplete" in message["text"]
    assert "decode_rate 92 → 41.5" in message["text"]
    assert any("New regime: served_by=gpt-4o-2024-08-06" in b.get("text", {}).get("text", "")
               for b in message["blocks"])
    d.close()


def test_same_alert_again_pages_nobody_and_a_new_key_waits_for_group_interval(pd, slack):
    d = dispatcher(pd, slack)
    d.submit([swap("chat", detected=0)])
    step(d, 30)
    d.submit([swap("chat", detected=0), swap("chat", detected=50)])  # detection repeats itself
    step(d, 200)
    assert len(pd.accepted()) == 1 and len(slack.messages()) == 1
    d.submit([swap("search", detected=60)])
    step(d, 329)  # the group's next tick is 30 s + 5 min
    assert len(pd.accepted()) == 1
    step(d, 330)
    assert [e["dedup_key"] for e in pd.accepted("trigger")][1] == (
        "swap/api/search/openai/gpt-4o/prod")
    assert len(slack.messages()) == 2
    assert "search" in slack.messages()[1]["text"] and "chat" in slack.messages()[1]["text"]
    d.close()


def test_repeat_interval_reminds_in_slack_without_paging_again(pd, slack):
    d = dispatcher(pd, slack)
    d.submit([swap("chat", detected=0)])
    step(d, 30)
    step(d, 30 + 4 * 3600 - 1)
    assert len(slack.messages()) == 1
    step(d, 30 + 4 * 3600)
    assert len(slack.messages()) == 2 and "(still firing)" in slack.messages()[1]["text"]
    assert len(pd.accepted("trigger")) == 1
    d.close()


def test_acknowledged_swap_resolves_the_same_pagerduty_incident(pd, slack, tmp_path):
    d = dispatcher(pd, slack, tmp_path)
    d.submit([swap("chat", detected=0)])
    step(d, 30)
    AckStore(tmp_path).add("swap/api/chat/openai/gpt-4o/prod", at(100))  # `swapwatch ack`
    step(d, 99)
    assert pd.accepted("resolve") == []
    step(d, 330)  # resolved at 100 s, announced at the group's next tick
    [resolve] = pd.accepted("resolve")
    assert resolve["dedup_key"] == "swap/api/chat/openai/gpt-4o/prod"
    assert pd.incidents[resolve["dedup_key"]].status == "resolved"
    assert slack.messages()[-1]["text"].startswith(":white_check_mark: Resolved")
    d.submit([swap("chat", detected=0)])  # the resolved change is not re-opened
    step(d, 3600)
    assert len(pd.accepted()) == 2 and pd.pages == 1
    d.close()


def test_stable_regime_resolves_after_the_configured_period_and_a_new_change_pages(pd, slack):
    d = dispatcher(pd, slack, resolve={"swap_stable_for": "1h"})
    d.submit([swap("chat", detected=0)])
    step(d, 3599)
    assert pd.accepted("resolve") == []
    step(d, 3630)  # 1 h after detection, on the 5-min grid anchored at 30 s
    assert [e["event_action"] for e in pd.accepted()] == ["trigger", "resolve"]
    d.submit([swap("chat", detected=7200, changed=7000)])  # a later change on the same key
    step(d, 7230)
    assert [e["event_action"] for e in pd.accepted()] == ["trigger", "resolve", "trigger"]
    assert pd.pages == 2
    d.close()


def test_identity_resolves_when_detection_says_mismatches_stopped(pd, slack):
    d = dispatcher(pd, slack)
    firing = swap("chat", detected=0, kind="identity")
    d.submit([firing])
    step(d, 30)
    d.submit([firing.model_copy(update={"status": "resolved", "detected_at": at(100)})])
    step(d, 330)
    assert [e["event_action"] for e in pd.accepted()] == ["trigger", "resolve"]
    assert pd.incidents[firing.dedup_key].status == "resolved"
    d.close()


def test_a_resolve_before_the_first_notification_sends_nothing(pd, slack):
    d = dispatcher(pd, slack)
    firing = swap("chat", detected=0, kind="identity")
    d.submit([firing, firing.model_copy(update={"status": "resolved"})])
    step(d, 600)
    assert pd.received == [] and slack.received == []
    d.close()


def test_config_silence_mutes_until_it_ends(pd, slack):
    silence = {"matchers": [{"name": "provider", "value": "openai"}],
               "starts_at": T0.isoformat(), "ends_at": (T0 + timedelta(hours=1)).isoformat()}
    d = dispatcher(pd, slack, silences=[silence])
    d.submit([swap("chat", detected=0), swap("chat", provider="anthropic", model="claude",
                                             detected=0)])
    step(d, 3599)
    assert [e["payload"]["component"] for e in pd.accepted()] == ["claude"]
    assert d.muted["swap/api/chat/openai/gpt-4o/prod"] == "silenced by config-0"
    step(d, 3630)  # first tick after the silence ended
    assert [e["payload"]["component"] for e in pd.accepted()] == ["claude", "gpt-4o"]
    d.close()


def test_cli_silence_is_picked_up_while_running_and_expiry_releases(pd, slack, tmp_path):
    d = dispatcher(pd, slack, tmp_path)
    store = SilenceStore(tmp_path)
    made = store.add([parse_matcher("request_model=~gpt-4.*")], T0, T0 + timedelta(days=1),
                     comment="known migration", created_by="oncall")
    d.submit([swap("chat", detected=10)])
    step(d, 600)
    assert pd.received == []
    store.expire(made.id, at(900))
    step(d, 900)
    step(d, 940)
    assert len(pd.accepted("trigger")) == 1
    d.close()


def test_provider_incident_inhibits_that_providers_swaps(pd, slack):
    d = dispatcher(pd, slack)
    d.submit([incident("openai", detected=0), swap("chat", detected=0),
              swap("chat", provider="anthropic", model="claude", detected=0)])
    step(d, 30)
    assert sorted(e["payload"]["class"] + ":" + e["payload"]["source"]
                  for e in pd.accepted()) == ["incident:swapwatch", "swap:api"]
    assert d.muted["swap/api/chat/openai/gpt-4o/prod"].startswith("inhibited by incident/")
    d.submit([incident("openai", detected=100).model_copy(update={"status": "resolved"})])
    step(d, 330)
    assert sorted((e["event_action"], e["dedup_key"]) for e in pd.accepted()[2:]) == [
        ("resolve", "incident/-/-/openai/-/-"), ("trigger", "swap/api/chat/openai/gpt-4o/prod")]
    d.close()


def test_restart_pages_nobody_twice(pd, slack, tmp_path):
    first = dispatcher(pd, slack, tmp_path)
    first.submit([swap("chat", detected=0), swap("search", detected=0)])
    step(first, 30)
    first.close()
    assert pd.pages == 2
    again = dispatcher(pd, slack, tmp_path)  # replays the same spans from older offsets
    again.submit([swap("chat", detected=0), swap("search", detected=0)])
    step(again, 40)
    step(again, 4000)
    again.drain()
    again.flush()
    assert len(pd.accepted()) == 2 and len(slack.messages()) == 1
    again.close()


def test_undelivered_alert_is_kept_and_delivered_after_restart(pd, slack, tmp_path):
    pd.script(*[server_error(503)] * 5)  # max_attempts = 5 in the test config
    first = dispatcher(pd, slack, tmp_path)
    first.submit([swap("chat", detected=0)])
    step(first, 30)
    assert pd.accepted() == [] and len(pd.received) == 5
    assert first.pending() == 1 and first.couriers["pagerduty"].is_parked()
    first.close()
    again = dispatcher(pd, slack, tmp_path)
    again.flush()
    assert [e["event_action"] for e in pd.accepted()] == ["trigger"] and pd.pages == 1
    assert again.pending() == 0
    again.submit([swap("chat", detected=0)])
    step(again, 600)
    assert len(pd.accepted()) == 1
    again.close()


def test_permanent_errors_are_dead_lettered_not_retried(pd, slack):
    slack.status_override = 404
    d = dispatcher(pd, slack)
    d.submit([swap("chat", detected=0)])
    step(d, 30)
    assert len(slack.received) == 1 and slack.received[0].reply.body == "channel_not_found"
    [dead] = d.dead_letters()
    assert dead["destination"] == "slack" and "channel_not_found" in dead["error"]
    assert dead["dedup_keys"] == ["swap/api/chat/openai/gpt-4o/prod"]
    assert len(pd.accepted()) == 1 and d.pending() == 0
    d.close()


def test_invalid_pagerduty_event_is_a_permanent_error(pd, slack):
    pd.script(Reply(400, '{"status":"invalid event","message":"Event object is invalid",'
                         '"errors":["\'payload.summary\' is required"]}'))
    d = dispatcher(pd, slack)
    d.submit([swap("chat", detected=0)])
    step(d, 30)
    assert len(pd.received) == 1 and "invalid event" in d.dead_letters()[0]["error"]
    d.close()


def test_replaying_in_one_step_or_many_gives_the_same_notifications(tmp_path):
    def run(steps: list[float]) -> list[tuple[str, str]]:
        with FakePagerDuty() as pd, FakeSlack() as slack:
            d = dispatcher(pd, slack, resolve={"swap_stable_for": "2h"})
            d.submit([swap("chat", detected=0), incident("anthropic", detected=20)])
            d.submit([swap("search", detected=400), swap("chat", detected=500)])
            for s in steps:
                d.advance(at(s))
            d.flush()
            d.close()
            return [(e["event_action"], e["dedup_key"]) for e in pd.accepted()] + [
                ("slack", m["text"]) for m in slack.messages()]

    streamed = run([float(s) for s in range(0, 4 * 3600, 7)])
    replayed = run([4 * 3600.0])
    assert streamed == replayed
    assert [a for a, _ in streamed].count("resolve") == 2


def test_drain_at_end_of_input_notifies_groups_still_waiting(pd, slack):
    d = dispatcher(pd, slack)
    d.submit([swap("chat", detected=0)])
    step(d, 10)
    d.drain()
    d.flush()
    assert len(pd.accepted()) == 1 and len(slack.messages()) == 1
    d.close()
