"""``AlertDispatcher``: the one object the detector talks to about alerts.

Two clocks, on purpose (see :mod:`timing`):

* **Event time** drives every decision. ``submit(alerts)`` adds what detection found;
  ``advance(now)`` moves the pipeline's clock to the newest span timestamp and runs, in time
  order, every due event: stable-period and acknowledgement resolves, and group flushes
  (group_wait, group_interval, repeat_interval, silences starting or ending). Replaying a
  file therefore gives the same notifications as streaming it, whatever the batch sizes.
* **Wall time** drives delivery only: one courier per destination (:mod:`retry`) paces,
  retries and honours ``Retry-After`` against the real service.

Checkpoint order (the runtime's): ``flush()`` (every queued message delivered, or kept in the
persisted outbox) → persist state (``snapshot()``, also saved in the state directory by
``flush()``) → commit offsets. After a restart on the same state directory the outbox is
delivered and the notification log prevents paging twice. At the end of a finite input call
``drain()``: it notifies every group that is still waiting for a timer.

>>> import io
>>> from datetime import datetime, timedelta, timezone
>>> from swapwatch.detector.alerts.alert import Alert, AlertKey
>>> from swapwatch.detector.alerts.config import AlertsConfig
>>> out = io.StringIO()
>>> cfg = AlertsConfig.model_validate({"jsonl": {"path": "-"}})
>>> dispatcher = AlertDispatcher(cfg, background=False, jsonl_stream=out)
>>> t = datetime(2026, 3, 2, 14, 0, tzinfo=timezone.utc)
>>> dispatcher.submit([Alert(kind="swap", key=AlertKey(provider="openai",
...     request_model="gpt-4o"), detected_at=t, changed_at=t, summary="3 signals shifted")])
>>> dispatcher.advance(t + timedelta(seconds=10)); _ = dispatcher.flush()
>>> out.getvalue()  # group_wait (30 s) has not elapsed in event time
''
>>> dispatcher.advance(t + timedelta(seconds=30)); _ = dispatcher.flush()
>>> Alert.model_validate_json(out.getvalue()).summary
'3 signals shifted'
>>> dispatcher.close()
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from swapwatch.detector.alerts.acks import AckStore
from swapwatch.detector.alerts.alert import Alert
from swapwatch.detector.alerts.config import AlertsConfig, RetryConfig
from swapwatch.detector.alerts.grouping import (
    AggregationGroup,
    group_key,
    group_labels,
    merge_alert,
    next_tick,
)
from swapwatch.detector.alerts.jsonl import JsonlNotifier
from swapwatch.detector.alerts.nflog import NotificationLog
from swapwatch.detector.alerts.notification import Notifier
from swapwatch.detector.alerts.outbox import Outbox
from swapwatch.detector.alerts.pagerduty import PagerDutyNotifier
from swapwatch.detector.alerts.ratelimit import TokenBucket
from swapwatch.detector.alerts.resolve import resolve_reason, stable_deadline
from swapwatch.detector.alerts.retry import Courier, Jitter
from swapwatch.detector.alerts.silences import Silence, SilenceStore
from swapwatch.detector.alerts.slack import SlackNotifier
from swapwatch.detector.alerts.stages import FlushContext, build_pipeline
from swapwatch.detector.alerts.statedb import AlertStateDb
from swapwatch.detector.alerts.timing import Clock, WallClock
from swapwatch.detector.alerts.webhook import WebhookNotifier

log = logging.getLogger(__name__)

SNAPSHOT_KEY = "pipeline"
_EPS = timedelta(microseconds=1)
_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)
_RELOAD_EVERY = timedelta(seconds=1)  # re-read CLI silences/acks at most once per event second


class AlertsSetupError(ValueError):
    """A configured destination cannot work (e.g. no routing key anywhere)."""


def build_notifiers(config: AlertsConfig, environ: Mapping[str, str] | None = None,
                    jsonl_stream: IO[str] | None = None) -> dict[str, Notifier]:
    notifiers: dict[str, Notifier] = {}
    base = config.report_base_url
    if config.pagerduty is not None and config.pagerduty.enabled:
        key = config.pagerduty.resolved_routing_key(environ)
        if not key:
            raise AlertsSetupError("alerts.pagerduty needs routing_key or $"
                                   + config.pagerduty.routing_key_env)
        notifiers["pagerduty"] = PagerDutyNotifier(config.pagerduty, key, base)
    if config.slack is not None and config.slack.enabled:
        url = config.slack.resolved_webhook_url(environ)
        if not url:
            raise AlertsSetupError("alerts.slack needs webhook_url or $"
                                   + config.slack.webhook_url_env)
        notifiers["slack"] = SlackNotifier(config.slack, url, base)
    if config.webhook is not None and config.webhook.enabled:
        notifiers["webhook"] = WebhookNotifier(config.webhook)
    if config.jsonl is not None and config.jsonl.enabled:
        notifiers["jsonl"] = JsonlNotifier(config.jsonl, stream=jsonl_stream)
    return notifiers


def _bucket_and_retry(config: AlertsConfig, name: str, clock: Clock) -> tuple[TokenBucket,
                                                                               RetryConfig]:
    if name == "pagerduty" and config.pagerduty is not None:
        pd = config.pagerduty
        return TokenBucket(pd.events_per_minute / 60.0, pd.burst, clock), pd.retry
    if name == "slack" and config.slack is not None:
        return TokenBucket(config.slack.messages_per_second, 1, clock), config.slack.retry
    if name == "webhook" and config.webhook is not None:
        return TokenBucket(config.webhook.messages_per_second, 5, clock), config.webhook.retry
    return TokenBucket(1e9, 1_000_000, clock), RetryConfig()


def open_dispatcher(config: AlertsConfig, state_dir: Path | None = None,
                    **kwargs: Any) -> AlertDispatcher | None:
    """A dispatcher when some destination is configured, else ``None`` (nothing to send)."""
    if not any(d is not None and d.enabled
               for d in (config.pagerduty, config.slack, config.webhook, config.jsonl)):
        return None
    return AlertDispatcher(config, state_dir, **kwargs)


def event_time(unix_ns: int) -> datetime:
    """A span timestamp as the dispatcher's event time.

    >>> event_time(1_772_460_000_000_000_000).isoformat()
    '2026-03-02T14:00:00+00:00'
    """
    return datetime.fromtimestamp(unix_ns / 1e9, tz=UTC)


class AlertDispatcher:
    """Group, inhibit, silence, dedup and deliver alerts (see the module docstring)."""

    def __init__(self, config: AlertsConfig, state_dir: Path | None = None, *,
                 clock: Clock | None = None, jitter: Jitter | None = None,
                 background: bool = True, notifiers: Mapping[str, Notifier] | None = None,
                 environ: Mapping[str, str] | None = None,
                 jsonl_stream: IO[str] | None = None) -> None:
        self.config = config
        self.state_dir = state_dir if state_dir is not None else config.state_dir
        self.clock = clock or WallClock()
        self.db = AlertStateDb(self.state_dir)
        self.nflog = NotificationLog(self.db)
        self.outbox = Outbox(self.db)
        self.notifiers = dict(notifiers) if notifiers is not None else build_notifiers(
            config, environ, jsonl_stream)
        self.couriers: dict[str, Courier] = {}
        for name, notifier in self.notifiers.items():
            bucket, retry = _bucket_and_retry(config, name, self.clock)
            self.couriers[name] = Courier(notifier, self.outbox, bucket, self.clock, retry,
                                          jitter)
        self._silence_store = SilenceStore(self.state_dir)
        self._ack_store = AckStore(self.state_dir)
        self._config_silences = [Silence.from_config(i, s) for i, s in enumerate(config.silences)]
        self._silences: list[Silence] = list(self._config_silences)
        self._groups: dict[str, AggregationGroup] = {}
        self._closed: OrderedDict[str, datetime] = OrderedDict()  # resolved: key -> changed_at
        self._version = 0
        self._now: datetime | None = None
        self.muted: dict[str, str] = {}  # last reason each alert was muted
        self.evicted = 0
        self._horizon: datetime | None = None  # nothing is due before this event time
        self._last_reload: datetime | None = None
        self._ack_list: list[Any] = list(config.resolve.acknowledged)
        self.pipeline = build_pipeline(config, self.notifiers, self.nflog, self.outbox,
                                       self._firing_alerts, lambda: self._silences, self._wake)
        saved = self.db.get_value(SNAPSHOT_KEY)
        if saved:
            self.restore(json.loads(saved))
        self._background = background
        if background:
            for courier in self.couriers.values():
                courier.start()
                courier.kick()  # whatever a previous run left in the outbox

    # --- event time --------------------------------------------------------------------

    def submit(self, alerts: Iterable[Alert]) -> None:
        """Take alerts from detection (firing, or resolved by detection)."""
        for incoming in alerts:
            closed_change = self._closed.get(incoming.dedup_key)
            if (incoming.status == "firing" and closed_change is not None
                    and incoming.changed_at <= closed_change):
                continue  # that change was already resolved
            labels = group_labels(incoming, self.config.route.group_by)
            key = group_key(labels)
            group = self._groups.get(key)
            if group is None:
                first = incoming.detected_at + self.config.route.group_wait
                group = AggregationGroup(key=key, labels=labels, anchor=first,
                                         next_flush_at=first)
                self._groups[key] = group
            kept = merge_alert(group.alerts.get(incoming.dedup_key), incoming)
            if kept is None:
                continue
            group.alerts[kept.dedup_key] = kept
            self._horizon = None
            if kept.status == "resolved":
                self._remember_closed(kept)
            self._changed(incoming.detected_at)
        self._enforce_bound()

    def advance(self, now: datetime) -> None:
        """Move event time to ``now`` and run every resolve and group flush due by then.

        Cheap when nothing is due (the detector may call it for every span)."""
        if self._last_reload is None or now - self._last_reload >= _RELOAD_EVERY:
            self._last_reload = now
            self._reload_operator_state(now)
        if self._horizon is not None and now < self._horizon:
            self._now = now if self._now is None else max(self._now, now)
            return
        while True:
            t_resolve = self._next_resolve_time()
            due = [g for g in self._groups.values() if g.next_flush_at is not None]
            t_group = min((g.next_flush_at for g in due if g.next_flush_at), default=None)
            if t_resolve is not None and t_resolve <= now and (t_group is None
                                                               or t_resolve <= t_group):
                if not self._resolve_at(t_resolve):  # cannot happen; never spin
                    log.error("resolve due at %s resolved nothing", t_resolve)
                    break
            elif t_group is not None and t_group <= now:
                for group in [g for g in due if g.next_flush_at == t_group]:
                    self._flush_group(group, t_group)
            else:
                self._horizon = min((x for x in (t_resolve, t_group) if x is not None),
                                    default=_FAR_FUTURE)
                break
        self._now = now if self._now is None else max(self._now, now)

    def drain(self) -> None:
        """End of a finite input: notify every group still waiting for a timer, now."""
        if self._now is None:
            return
        self.advance(self._now)
        for group in list(self._groups.values()):
            if group.next_flush_at is not None:
                self._flush_group(group, self._now)

    # --- wall time ---------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Block until every queued message is delivered or parked in the persisted outbox,
        then save the pipeline state. ``False`` if a courier did not finish in ``timeout``."""
        done = all([courier.flush(timeout) for courier in self.couriers.values()])
        self.save_state()
        return done

    def close(self) -> None:
        self.flush(timeout=30)
        for courier in self.couriers.values():
            courier.stop()
        for notifier in self.notifiers.values():
            notifier.close()
        self.db.close()

    # --- state -------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {"version": 1, "now": None if self._now is None else self._now.isoformat(),
                "groups": [g.snapshot() for g in self._groups.values()],
                "closed": {k: v.isoformat() for k, v in self._closed.items()}}

    def restore(self, data: Mapping[str, Any]) -> None:
        self._now = None if data.get("now") is None else datetime.fromisoformat(data["now"])
        self._groups = {}
        for raw in data.get("groups", []):
            group = AggregationGroup.restore(raw)
            self._groups[group.key] = group
        self._closed = OrderedDict((k, datetime.fromisoformat(v))
                                   for k, v in data.get("closed", {}).items())
        self._version += 1
        self._horizon = None

    def save_state(self) -> None:
        self.db.set_value(SNAPSHOT_KEY, json.dumps(self.snapshot()))
        if self._now is not None:
            horizon = max(self.config.route.repeat_interval, timedelta(days=7))
            self.nflog.forget_quiet(self._now - horizon)

    def pending(self) -> int:
        """Messages in the outbox (queued, retrying or parked)."""
        return self.outbox.pending()

    def dead_letters(self) -> list[dict[str, Any]]:
        return self.outbox.dead_letters()

    def firing(self) -> list[Alert]:
        return list(self._firing_alerts())

    # --- internals ---------------------------------------------------------------------

    def _firing_alerts(self) -> Iterable[Alert]:
        for group in self._groups.values():
            yield from (a for a in group.alerts.values() if a.status == "firing")

    def _wake(self, destination: str) -> None:
        if self._background:
            self.couriers[destination].kick()

    def _changed(self, at: datetime) -> None:
        """Something that can change a notification happened at event time ``at``."""
        self._version += 1
        self._horizon = None
        for group in self._groups.values():
            tick = next_tick(group.anchor, self.config.route.group_interval, at - _EPS)
            if group.next_flush_at is None or (tick < group.next_flush_at
                                               and group.seen_version >= 0):
                group.next_flush_at = tick

    def _reload_operator_state(self, now: datetime) -> None:
        silences = self._config_silences + self._silence_store.load()
        if silences != self._silences:
            self._silences = silences
            self._changed(self._now or now)
        acks = [*self.config.resolve.acknowledged, *self._ack_store.load()]
        if acks != self._ack_list:
            self._ack_list = acks
            self._horizon = None  # a new acknowledgement may resolve something

    def _acks(self) -> list[Any]:
        return self._ack_list

    def _next_resolve_time(self) -> datetime | None:
        stable_for = self.config.resolve.swap_stable_for
        acks = self._acks()
        times: list[datetime] = []
        for alert in self._firing_alerts():
            if alert.kind != "swap":
                continue
            if stable_for is not None:
                times.append(stable_deadline(alert, stable_for))
            names = {alert.dedup_key, alert.key.slug()}
            times += [a.at for a in acks if a.key in names and a.at >= alert.changed_at]
        return min(times, default=None)

    def _resolve_at(self, t: datetime) -> int:
        acks = self._acks()
        count = 0
        for group in self._groups.values():
            for key, alert in list(group.alerts.items()):
                reason = resolve_reason(alert, acks, t, self.config.resolve.swap_stable_for)
                if reason is None:
                    continue
                evidence = {**alert.evidence, "resolution": {"reason": reason,
                                                             "at": t.isoformat()}}
                resolved = alert.model_copy(update={"status": "resolved", "evidence": evidence})
                group.alerts[key] = resolved
                self._remember_closed(resolved)
                count += 1
                log.info("resolved %s at %s: %s", key, t.isoformat(), reason)
        self._changed(t)
        return count

    def _remember_closed(self, alert: Alert) -> None:
        self._closed[alert.dedup_key] = alert.changed_at
        self._closed.move_to_end(alert.dedup_key)
        while len(self._closed) > self.config.max_alerts:
            self._closed.popitem(last=False)

    def _flush_group(self, group: AggregationGroup, t: datetime) -> None:
        alerts = list(group.alerts.values())
        ctx = FlushContext(now=t, group_key=group.key, group_labels=group.labels)
        self.pipeline.process(ctx, alerts)
        for own in self.pipeline.last_contexts:
            self.muted.update(own.muted)
        group.seen_version = self._version
        for alert in alerts:  # resolved alerts leave the group once flushed (Alertmanager)
            if alert.status == "resolved" and group.alerts.get(alert.dedup_key) == alert:
                del group.alerts[alert.dedup_key]
        if not group.alerts:
            del self._groups[group.key]
            return
        group.next_flush_at = self._next_wake(group, t)

    def _next_wake(self, group: AggregationGroup, t: datetime) -> datetime | None:
        """The next grid tick at which this group could have something to say, if any."""
        candidates = [s.starts_at for s in self._silences if s.starts_at > t]
        candidates += [s.ends_at for s in self._silences if s.ends_at > t]
        for destination in self.notifiers:
            entry = self.nflog.get(destination, group.key)
            if entry is not None and entry.firing:
                candidates.append(entry.notified_at + self.config.route.repeat_interval)
        if not candidates:
            return None
        wake = max(min(candidates), t + _EPS)
        return next_tick(group.anchor, self.config.route.group_interval, wake - _EPS)

    def _enforce_bound(self) -> None:
        total = sum(len(g.alerts) for g in self._groups.values())
        while total > self.config.max_alerts:
            oldest = min((a for g in self._groups.values() for a in g.alerts.values()),
                         key=lambda a: a.detected_at)
            for key, group in list(self._groups.items()):
                if group.alerts.pop(oldest.dedup_key, None) is not None and not group.alerts:
                    del self._groups[key]
            self.evicted += 1
            total -= 1
            log.warning("alert bound %d reached: evicted %s", self.config.max_alerts,
                        oldest.dedup_key)
