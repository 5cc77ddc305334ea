"""Delivery to the fakes: retries, Retry-After, pacing, parking (wall time, injected clock)."""

from __future__ import annotations

import itertools
import time

from fakes.alerts import ROUTING_KEY, destinations, swap
from fakes.pagerduty import FakePagerDuty, server_error, throttled
from fakes.slack import FakeSlack, rate_limited
from swapwatch.detector.alerts.config import AlertsConfig, PagerDutyConfig, RetryConfig
from swapwatch.detector.alerts.dispatcher import AlertDispatcher
from swapwatch.detector.alerts.notification import OutboundMessage
from swapwatch.detector.alerts.outbox import Outbox
from swapwatch.detector.alerts.pagerduty import PagerDutyNotifier, trigger_event
from swapwatch.detector.alerts.ratelimit import TokenBucket
from swapwatch.detector.alerts.retry import Courier
from swapwatch.detector.alerts.statedb import AlertStateDb
from swapwatch.detector.alerts.timing import ManualClock


def pd_courier(fake: FakePagerDuty, clock: ManualClock, rate_per_min: float = 120,
               burst: int = 10, **retry: object) -> Courier:
    retry_cfg = RetryConfig.model_validate({"initial_backoff": 1, "max_backoff": 30, **retry})
    cfg = PagerDutyConfig(url=fake.url, retry=retry_cfg)
    notifier = PagerDutyNotifier(cfg, ROUTING_KEY)
    bucket = TokenBucket(rate_per_min / 60, burst, clock)
    return Courier(notifier, Outbox(AlertStateDb(None)), bucket, clock, retry_cfg)


def enqueue(courier: Courier, n: int) -> None:
    with courier.outbox.db.transaction() as cur:
        for i in range(n):
            alert = swap(f"surface{i}")
            body = trigger_event(alert, "swapwatch", None)
            courier.outbox.put(cur, OutboundMessage("pagerduty", body, (alert.dedup_key,)))


def test_recoverable_errors_back_off_exponentially_then_succeed():
    with FakePagerDuty() as fake:
        fake.script(server_error(500), server_error(502), server_error(503))
        clock = ManualClock()
        courier = pd_courier(fake, clock)
        enqueue(courier, 1)
        assert courier.drain() == "idle"
        assert clock.slept == [1.0, 2.0, 4.0]
        assert len(fake.accepted("trigger")) == 1 and courier.outbox.pending() == 0


def test_429_retry_after_is_honoured_and_nothing_is_lost():
    with FakeSlack() as fake:
        fake.script(rate_limited(7), rate_limited(3))
        clock = ManualClock()
        cfg = AlertsConfig.model_validate(destinations(slack_url=fake.url))
        d = AlertDispatcher(cfg, clock=clock, background=False, environ={})
        d.submit([swap("a", model="m1"), swap("b", model="m2"), swap("c", model="m3")])
        d.advance(swap().detected_at.replace(minute=1))
        d.flush()
        assert len(fake.messages()) == 3 and d.pending() == 0
        times = d.couriers["slack"].stats.send_times
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert gaps[:2] == [7.0, 3.0]  # Retry-After, then the same message again
        assert all(g >= 1.0 for g in gaps)  # and never faster than 1 message per second
        d.close()


def test_pacing_respects_the_token_bucket_per_routing_key():
    with FakePagerDuty() as fake:
        clock = ManualClock()
        courier = pd_courier(fake, clock, rate_per_min=120, burst=10)
        enqueue(courier, 40)
        courier.drain()
        assert len(fake.accepted()) == 40
        t = courier.stats.send_times
        for i in range(len(t)):
            for j in range(i + 1, len(t)):
                # at most burst + rate * elapsed requests in any stretch of time
                assert j - i + 1 <= 10 + 2.0 * (t[j] - t[i]) + 1e-9
        assert t[-1] - t[0] >= (40 - 10) / 2.0 - 1e-9


def test_exhausted_retries_park_the_message_which_is_delivered_later():
    with FakePagerDuty() as fake:
        fake.script(*[server_error(500)] * 3)
        clock = ManualClock()
        courier = pd_courier(fake, clock, max_attempts=3, park_for=60)
        enqueue(courier, 2)
        assert courier.drain() == "parked"
        assert courier.outbox.pending() == 2 and courier.stats.parked == 1
        clock.advance(60)
        assert courier.drain() == "idle"
        assert [e["dedup_key"] for e in fake.accepted()] == [
            "swap/api/surface0/openai/gpt-4o/prod", "swap/api/surface1/openai/gpt-4o/prod"]


def test_fake_pagerduty_refuses_what_the_real_one_refuses():
    with FakePagerDuty() as fake:
        courier = pd_courier(fake, ManualClock())
        bad = [{"event_action": "resolve"},  # resolve needs a dedup_key
               {"event_action": "trigger", "dedup_key": "x" * 256,
                "payload": {"summary": "s", "source": "h", "severity": "error"}},
               {"event_action": "trigger", "payload": {"summary": "s", "source": "h",
                                                       "severity": "fatal"}}]
        errors = [courier.notifier.notify(OutboundMessage("pagerduty", body)) for body in bad]
        assert all(e is not None and "HTTP 400" in e.reason for e in errors)
        assert courier.notifier.notify(OutboundMessage("pagerduty", trigger_event(
            swap(), "swapwatch", None))) is None


def test_background_delivery_under_429_then_202_in_real_time():
    """Done-when: a fake that answers 429 then 202; nothing lost, pacing respects limits."""
    with FakePagerDuty() as pd, FakeSlack(enforce_rate=True) as slack:
        pd.script(throttled())
        slack.script(rate_limited(1))
        raw = destinations(pd.url, slack.url)
        d = AlertDispatcher(AlertsConfig.model_validate(raw), environ={})  # wall clock, threads
        d.submit([swap("a", model="m1"), swap("b", model="m2")])
        d.advance(swap().detected_at.replace(minute=1))
        started = time.monotonic()
        assert d.flush(timeout=30)
        assert d.pending() == 0
        assert len(pd.accepted("trigger")) == 2 and pd.pages == 2
        assert len(slack.messages()) == 2
        # the fake answers 429 to anything faster than ~1/s: only the scripted one happened
        assert [r.reply.status for r in slack.received].count(429) == 1
        accepted = [r.at for r in slack.received if r.reply.status == 200]
        assert accepted[1] - accepted[0] >= 0.9
        assert time.monotonic() - started < 30
        d.close()
