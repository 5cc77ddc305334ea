"""PagerDuty Events API v2: one ``trigger`` per newly firing alert, one ``resolve`` per resolved.

Each alert keeps its ``dedup_key`` for life, so a resolve closes exactly the incident its
trigger opened, and a re-sent trigger (after a crash between delivery and bookkeeping) lands in
the same open incident instead of paging again. The routing key is added at send time, so it
is never written to the outbox on disk. 202 is success; 400 is permanent; 429 and 5xx are
recoverable (the courier paces at ``events_per_minute`` and backs off).

>>> from datetime import datetime, timezone
>>> from swapwatch.detector.alerts.alert import Alert, AlertKey
>>> t = datetime(2026, 3, 2, 14, 5, tzinfo=timezone.utc)
>>> a = Alert(kind="swap", key=AlertKey(service="api", surface="chat", provider="openai",
...           request_model="gpt-4o"), signals=["cost"], detected_at=t, changed_at=t,
...           summary="gpt-4o on chat: 3 signals shifted")
>>> event = trigger_event(a, source="swapwatch", report_base_url="https://sw.example")
>>> event["event_action"], event["dedup_key"], event["payload"]["class"], event["payload"]["group"]
('trigger', 'swap/api/chat/openai/gpt-4o/-', 'swap', 'chat')
>>> event["links"][0]["href"]
'https://sw.example/alerts/swap/api/chat/openai/gpt-4o/-'
>>> resolve_event(a)
{'event_action': 'resolve', 'dedup_key': 'swap/api/chat/openai/gpt-4o/-'}
"""

from __future__ import annotations

import json
from typing import Any

from swapwatch.detector.alerts.alert import Alert
from swapwatch.detector.alerts.config import PagerDutyConfig
from swapwatch.detector.alerts.describe import regime_text, report_link, signal_rows
from swapwatch.detector.alerts.notification import (
    DeliveryError,
    Notification,
    OutboundMessage,
    PermanentError,
)
from swapwatch.detector.alerts.transport import post_json

MAX_SUMMARY = 1024
MAX_DETAILS_BYTES = 256_000  # PagerDuty refuses events above 512 KB


def custom_details(alert: Alert) -> dict[str, Any]:
    details: dict[str, Any] = {
        "series": alert.key.labels(),
        "signals": {name: {"before": before, "after": after}
                    for name, before, after in signal_rows(alert)},
        "changed_at": alert.changed_at.isoformat(),
        "detected_at": alert.detected_at.isoformat(),
        "delay_requests": alert.delay_requests,
        "regime": regime_text(alert),
        "evidence": alert.evidence,
    }
    if len(json.dumps(details, default=str)) > MAX_DETAILS_BYTES:
        details["evidence"] = "(evidence too large for PagerDuty; see the report link)"
    return details


def trigger_event(alert: Alert, source: str, report_base_url: str | None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "summary": alert.summary[:MAX_SUMMARY] or alert.dedup_key,
        "source": alert.key.service or source,
        "severity": alert.severity,
        "timestamp": alert.detected_at.isoformat(),
        "class": alert.kind,
        "custom_details": json.loads(json.dumps(custom_details(alert), default=str)),
    }
    if alert.key.request_model:
        payload["component"] = alert.key.request_model
    if alert.key.surface:
        payload["group"] = alert.key.surface
    event: dict[str, Any] = {"event_action": "trigger", "dedup_key": alert.dedup_key,
                             "payload": payload, "client": "swapwatch"}
    link = report_link(report_base_url, alert)
    if link:
        event["links"] = [{"href": link, "text": "swapwatch evidence report"}]
        event["client_url"] = link
    return event


def resolve_event(alert: Alert) -> dict[str, Any]:
    return {"event_action": "resolve", "dedup_key": alert.dedup_key}


class PagerDutyNotifier:
    name = "pagerduty"

    def __init__(self, config: PagerDutyConfig, routing_key: str | None,
                 report_base_url: str | None = None) -> None:
        self.config = config
        self._routing_key = routing_key
        self._report_base_url = report_base_url

    def render(self, notification: Notification) -> list[OutboundMessage]:
        messages = [OutboundMessage(self.name, trigger_event(a, self.config.source,
                                                             self._report_base_url),
                                    (a.dedup_key,)) for a in notification.new_firing]
        messages += [OutboundMessage(self.name, resolve_event(a), (a.dedup_key,))
                     for a in notification.new_resolved]
        return messages

    def notify(self, message: OutboundMessage) -> DeliveryError | None:
        if not self._routing_key:
            return PermanentError("no PagerDuty routing key configured")
        body = {"routing_key": self._routing_key, **message.body}
        return post_json(self.config.url, body, self.config.retry.request_timeout.total_seconds())

    def close(self) -> None:
        pass
