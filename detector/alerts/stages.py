"""The notification pipeline: stages with one signature, assembled in :func:`build_pipeline`.

Every stage is ``process(ctx, alerts) -> alerts`` (Alertmanager's ``notify.Stage``); an empty
result ends the flush for that destination. ``ctx`` carries the group, the destination and
the event time of the flush. For each destination, in order:

1. ``KindFilterStage``: only the kinds the destination wants.
2. ``InhibitStage``: firing alerts muted by a firing source alert (incident → swap).
3. ``SilenceStage``: firing alerts muted by an active silence (config + CLI).
4. ``DedupStage``: compares with the notification log; builds the :class:`Notification` only
   when something is new, resolved, or due for a repeat.
5. ``RetryStage``: renders the messages, records the notification log and puts the messages in
   the outbox in one transaction, then wakes the destination's courier, which delivers them
   with pacing and bounded retries (:mod:`retry`, wall time).

A resolve of an alert that was already announced is never muted, so no incident stays open.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Protocol

from swapwatch.detector.alerts.alert import Alert, AlertKind
from swapwatch.detector.alerts.config import AlertsConfig, InhibitRuleConfig, RouteConfig
from swapwatch.detector.alerts.inhibit import inhibited_by
from swapwatch.detector.alerts.labels import alert_labels
from swapwatch.detector.alerts.nflog import NotificationLog, next_entry, notify_reason
from swapwatch.detector.alerts.notification import Notification, Notifier
from swapwatch.detector.alerts.outbox import Outbox
from swapwatch.detector.alerts.silences import Silence, silenced_by

log = logging.getLogger(__name__)


@dataclass
class FlushContext:
    now: datetime  # event time of the group flush
    group_key: str
    group_labels: dict[str, str]
    destination: str = ""
    notification: Notification | None = None
    muted: dict[str, str] = field(default_factory=dict)  # dedup key -> why


class Stage(Protocol):
    def process(self, ctx: FlushContext, alerts: Sequence[Alert]) -> Sequence[Alert]: ...


class MultiStage:
    """Stages in sequence; stops as soon as one returns nothing."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = list(stages)

    def process(self, ctx: FlushContext, alerts: Sequence[Alert]) -> Sequence[Alert]:
        for stage in self.stages:
            if not alerts:
                break
            alerts = stage.process(ctx, alerts)
        return alerts


class FanoutStage:
    """The same alerts through each destination's own pipeline (its own context copy)."""

    def __init__(self, pipelines: Mapping[str, Stage]) -> None:
        self.pipelines = dict(pipelines)
        self.last_contexts: list[FlushContext] = []

    def process(self, ctx: FlushContext, alerts: Sequence[Alert]) -> Sequence[Alert]:
        self.last_contexts = []
        sent: list[Alert] = []
        for destination, pipeline in self.pipelines.items():
            own = replace(ctx, destination=destination, muted={})
            self.last_contexts.append(own)
            sent += pipeline.process(own, alerts)
        return sent


class KindFilterStage:
    def __init__(self, kinds: Iterable[AlertKind] | None) -> None:
        self.kinds = None if kinds is None else set(kinds)

    def process(self, ctx: FlushContext, alerts: Sequence[Alert]) -> Sequence[Alert]:
        return alerts if self.kinds is None else [a for a in alerts if a.kind in self.kinds]


class InhibitStage:
    def __init__(self, rules: Sequence[InhibitRuleConfig],
                 firing_alerts: Callable[[], Iterable[Alert]]) -> None:
        self.rules = list(rules)
        self.firing_alerts = firing_alerts

    def process(self, ctx: FlushContext, alerts: Sequence[Alert]) -> Sequence[Alert]:
        if not self.rules:
            return alerts
        sources = list(self.firing_alerts())
        kept = []
        for alert in alerts:
            why = inhibited_by(alert, sources, self.rules) if alert.status == "firing" else None
            if why:
                ctx.muted[alert.dedup_key] = why
            else:
                kept.append(alert)
        return kept


class SilenceStage:
    def __init__(self, silences: Callable[[], Sequence[Silence]]) -> None:
        self.silences = silences

    def process(self, ctx: FlushContext, alerts: Sequence[Alert]) -> Sequence[Alert]:
        active = [s for s in self.silences() if s.active(ctx.now)]
        if not active:
            return alerts
        kept = []
        for alert in alerts:
            silence = (silenced_by(alert_labels(alert), active, ctx.now)
                       if alert.status == "firing" else None)
            if silence is not None:
                ctx.muted[alert.dedup_key] = f"silenced by {silence.id}"
            else:
                kept.append(alert)
        return kept


class DedupStage:
    def __init__(self, nflog: NotificationLog, route: RouteConfig) -> None:
        self.nflog = nflog
        self.route = route

    def process(self, ctx: FlushContext, alerts: Sequence[Alert]) -> Sequence[Alert]:
        firing = [a for a in alerts if a.status == "firing"]
        resolved = [a for a in alerts if a.status == "resolved"]
        entry = self.nflog.get(ctx.destination, ctx.group_key)
        firing_keys = {a.dedup_key for a in firing}
        resolved_keys = {a.dedup_key for a in resolved}
        reason = notify_reason(entry, firing_keys, resolved_keys, ctx.now,
                               self.route.repeat_interval, self.route.send_resolved)
        if reason is None:
            return []
        before = entry.firing if entry else frozenset()
        new_resolved = [a for a in resolved if a.dedup_key in before]
        ctx.notification = Notification(
            destination=ctx.destination, group_key=ctx.group_key,
            group_labels=ctx.group_labels, firing=tuple(firing), resolved=tuple(resolved),
            new_firing=tuple(a for a in firing if a.dedup_key not in before),
            new_resolved=tuple(new_resolved if self.route.send_resolved else ()),
            reason=reason, now=ctx.now)
        return alerts


class RetryStage:
    """Hands the notification to the destination's outbox and courier (which retries)."""

    def __init__(self, notifier: Notifier, nflog: NotificationLog, outbox: Outbox,
                 wake_courier: Callable[[], None]) -> None:
        self.notifier = notifier
        self.nflog = nflog
        self.outbox = outbox
        self.wake_courier = wake_courier

    def process(self, ctx: FlushContext, alerts: Sequence[Alert]) -> Sequence[Alert]:
        n = ctx.notification
        if n is None:
            return []
        messages = self.notifier.render(n)
        entry = next_entry(self.nflog.get(ctx.destination, ctx.group_key),
                           {a.dedup_key for a in n.firing}, {a.dedup_key for a in n.resolved},
                           ctx.now)
        with self.outbox.db.transaction() as cur:
            self.nflog.put(cur, ctx.destination, ctx.group_key, entry)
            for message in messages:
                self.outbox.put(cur, message)
        log.info("notify %s about %s at %s (%s): %d message(s)", ctx.destination,
                 ctx.group_key, ctx.now.isoformat(), n.reason, len(messages))
        if messages:
            self.wake_courier()
        return alerts


def build_pipeline(
    config: AlertsConfig,
    notifiers: Mapping[str, Notifier],
    nflog: NotificationLog,
    outbox: Outbox,
    firing_alerts: Callable[[], Iterable[Alert]],
    silences: Callable[[], Sequence[Silence]],
    wake_courier: Callable[[str], None],
) -> FanoutStage:
    """The whole notification pipeline, in one readable place."""
    kinds = {"pagerduty": config.pagerduty, "slack": config.slack,
             "webhook": config.webhook, "jsonl": config.jsonl}
    pipelines: dict[str, Stage] = {}
    for name, notifier in notifiers.items():
        dest_cfg = kinds.get(name)
        pipelines[name] = MultiStage([
            KindFilterStage(dest_cfg.kinds if dest_cfg is not None else None),
            InhibitStage(config.inhibit_rules, firing_alerts),
            SilenceStage(silences),
            DedupStage(nflog, config.route),
            RetryStage(notifier, nflog, outbox, partial(wake_courier, name)),
        ])
    return FanoutStage(pipelines)
