"""A generic webhook: one POST per group notification, shaped like Alertmanager's webhook.

>>> from datetime import datetime, timezone
>>> from swapwatch.detector.alerts.alert import Alert, AlertKey
>>> from swapwatch.detector.alerts.notification import Notification
>>> t = datetime(2026, 3, 2, tzinfo=timezone.utc)
>>> a = Alert(kind="identity", key=AlertKey(provider="openai"), detected_at=t, changed_at=t,
...           summary="served gpt-4o-mini for gpt-4o")
>>> n = Notification("webhook", "kind=identity", {"kind": "identity"}, (a,), (), (a,), (),
...                  "first notification", t)
>>> body = webhook_body(n)
>>> body["status"], body["groupKey"], body["alerts"][0]["summary"]
('firing', 'kind=identity', 'served gpt-4o-mini for gpt-4o')
"""

from __future__ import annotations

import json
from typing import Any

from swapwatch.detector.alerts.config import WebhookConfig
from swapwatch.detector.alerts.notification import DeliveryError, Notification, OutboundMessage
from swapwatch.detector.alerts.transport import post_json


def webhook_body(n: Notification) -> dict[str, Any]:
    alerts = [*n.firing, *n.new_resolved]
    return {
        "version": "1",
        "receiver": n.destination,
        "status": "firing" if n.firing else "resolved",
        "groupKey": n.group_key,
        "groupLabels": n.group_labels,
        "reason": n.reason,
        "alerts": [json.loads(a.model_dump_json()) for a in alerts],
        "new": [a.dedup_key for a in (*n.new_firing, *n.new_resolved)],
    }


class WebhookNotifier:
    name = "webhook"

    def __init__(self, config: WebhookConfig) -> None:
        self.config = config

    def render(self, notification: Notification) -> list[OutboundMessage]:
        if not notification.firing and not notification.new_resolved:
            return []
        keys = tuple(a.dedup_key for a in (*notification.firing, *notification.new_resolved))
        return [OutboundMessage(self.name, webhook_body(notification), keys)]

    def notify(self, message: OutboundMessage) -> DeliveryError | None:
        return post_json(self.config.url, message.body,
                         self.config.retry.request_timeout.total_seconds())

    def close(self) -> None:
        pass
