"""Slack incoming webhook: one message per group notification, readable as plain text.

``text`` is the notification fallback and reads well alone; ``blocks`` show, per alert, what
changed, which signals moved (before → after), since when, and what serves the new regime.
Sent with ``slack_sdk.WebhookClient`` with its retry handlers off (the courier retries):
200 ``ok`` is success; 429 honours ``Retry-After``; 400 ``invalid_payload``, 403, 404
``channel_not_found`` and 410 ``channel_is_archived`` are permanent.

>>> from datetime import datetime, timezone
>>> from swapwatch.detector.alerts.alert import Alert, AlertKey
>>> t = datetime(2026, 3, 2, 14, 5, tzinfo=timezone.utc)
>>> a = Alert(kind="swap", key=AlertKey(surface="chat", provider="openai",
...           request_model="gpt-4o"), signals=["decode_rate"], detected_at=t, changed_at=t,
...           summary="gpt-4o on chat: decode_rate shifted",
...           evidence={"signals": {"decode_rate": {"before": 92.0, "after": 41.0}}})
>>> body = slack_message([a], [], {"kind": "swap", "provider": "openai"}, "first notification",
...                      report_base_url=None)
>>> print(body["text"])
:red_circle: Model swap suspected: openai gpt-4o
• gpt-4o on chat: decode_rate shifted — since 2026-03-02 14:05 UTC; signals: decode_rate 92 → 41
>>> [b["type"] for b in body["blocks"]]
['header', 'section', 'context']
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from swapwatch.detector.alerts.alert import Alert
from swapwatch.detector.alerts.config import SlackConfig
from swapwatch.detector.alerts.describe import (
    headline,
    regime_text,
    report_link,
    series_text,
    signal_rows,
)
from swapwatch.detector.alerts.notification import (
    DeliveryError,
    Notification,
    OutboundMessage,
    PermanentError,
    RecoverableError,
    classify_http,
    parse_retry_after,
)

MAX_ALERT_BLOCKS = 20  # Slack allows 50 blocks per message
MAX_SECTION = 2900  # of Slack's 3000 characters per section text
MAX_TEXT = 3500


def _when(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC")


def _line(alert: Alert) -> str:
    signals = "; ".join(f"{name} {before} → {after}" if before != "?" else name
                        for name, before, after in signal_rows(alert))
    tail = f"; signals: {signals}" if signals else ""
    verb = "resolved" if alert.status == "resolved" else f"since {_when(alert.changed_at)}"
    return f"• {alert.summary} — {verb}{tail}"


def _alert_section(alert: Alert, report_base_url: str | None) -> dict[str, Any]:
    lines = [f"*{headline(alert)}*", f"_{series_text(alert)}_"]
    if alert.status == "firing":
        delay = (f", {alert.delay_requests} requests later" if alert.delay_requests is not None
                 else "")
        lines.append(f"Changed {_when(alert.changed_at)} (detected "
                     f"{_when(alert.detected_at)}{delay})")
    lines.append(alert.summary)
    lines += [f"• `{name}`: {before} → {after}" for name, before, after in signal_rows(alert)]
    regime = regime_text(alert)
    if regime:
        lines.append(f"New regime: {regime}")
    link = report_link(report_base_url, alert)
    if link:
        lines.append(f"<{link}|Evidence report>")
    return {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:MAX_SECTION]}}


def slack_message(firing: Sequence[Alert], resolved: Sequence[Alert],
                  group_labels: dict[str, str], reason: str,
                  report_base_url: str | None) -> dict[str, Any]:
    shown = [*firing, *resolved]
    if firing:
        title = f":red_circle: {headline(firing[0])}"
        if len(firing) > 1:
            title += f" (+{len(firing) - 1} more)"
    else:
        title = f":white_check_mark: {headline(resolved[0])}"
    if reason == "repeat interval elapsed":
        title += " (still firing)"
    text = "\n".join([title, *(_line(a) for a in shown)])[:MAX_TEXT]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150], "emoji": True}}]
    blocks += [_alert_section(a, report_base_url) for a in shown[:MAX_ALERT_BLOCKS]]
    if len(shown) > MAX_ALERT_BLOCKS:
        blocks.append({"type": "section", "text": {
            "type": "mrkdwn", "text": f"…and {len(shown) - MAX_ALERT_BLOCKS} more alerts"}})
    group = ", ".join(f"{k}={v}" for k, v in group_labels.items())
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"swapwatch · group {group} · {reason}"[:MAX_SECTION]}]})
    return {"text": text, "blocks": blocks}


class SlackNotifier:
    name = "slack"

    def __init__(self, config: SlackConfig, webhook_url: str | None,
                 report_base_url: str | None = None) -> None:
        self.config = config
        self._webhook_url = webhook_url
        self._report_base_url = report_base_url
        self._client: Any = None

    def render(self, notification: Notification) -> list[OutboundMessage]:
        firing = list(notification.firing)
        if not firing and not notification.new_resolved:
            return []
        body = slack_message(firing, notification.new_resolved, notification.group_labels,
                             notification.reason, self._report_base_url)
        keys = tuple(a.dedup_key for a in (*firing, *notification.new_resolved))
        return [OutboundMessage(self.name, body, keys)]

    def notify(self, message: OutboundMessage) -> DeliveryError | None:
        if not self._webhook_url:
            return PermanentError("no Slack webhook URL configured")
        if self._client is None:
            from slack_sdk.webhook import WebhookClient  # the detector extra

            self._client = WebhookClient(
                self._webhook_url, timeout=int(self.config.retry.request_timeout.total_seconds()),
                retry_handlers=[])
        try:
            response = self._client.send_dict(message.body)
        except Exception as exc:  # URLError, timeouts: the network, not the message
            return RecoverableError(f"network: {exc}")
        headers = {k.lower(): v for k, v in (response.headers or {}).items()}
        return classify_http(response.status_code, str(response.body),
                             parse_retry_after(headers.get("retry-after")))

    def close(self) -> None:
        self._client = None
