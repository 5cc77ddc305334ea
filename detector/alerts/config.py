"""Typed configuration of alert routing and destinations (the ``alerts:`` section).

Every default lives here. Durations accept seconds or ``"30s"``, ``"5m"``, ``"4h"``, ``"2d"``.
Secrets (the PagerDuty routing key, the Slack webhook URL) may be written in the file, set
through the root loader (``SWAPWATCH__ALERTS__PAGERDUTY__ROUTING_KEY=...``) or read from the
environment variable named by ``routing_key_env`` / ``webhook_url_env``.

>>> cfg = AlertsConfig.model_validate({
...     "pagerduty": {"routing_key": "r" * 32, "url": "http://127.0.0.1:9/v2/enqueue"},
...     "route": {"group_by": ["kind", "provider"], "group_wait": "10s"}})
>>> cfg.route.group_wait
datetime.timedelta(seconds=10)
>>> cfg.pagerduty.resolved_routing_key({})
'rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr'
>>> AlertsConfig().pagerduty is None  # no destination configured: nothing is sent
True
>>> PagerDutyConfig(routing_key_env="PD_KEY").resolved_routing_key({"PD_KEY": "k" * 32})[:3]
'kkk'
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, model_validator
from swapwatch.detector.alerts.alert import AlertKind

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")


def parse_duration(value: Any) -> Any:
    """``"90s"`` / ``"5m"`` / ``"4h"`` / ``"2d"`` / seconds → timedelta; others pass through.

    >>> parse_duration("5m"), parse_duration(1.5)
    (datetime.timedelta(seconds=300), datetime.timedelta(seconds=1, microseconds=500000))
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RetryConfig(_Section):
    """Bounded exponential backoff of one destination, in wall time."""

    max_attempts: int = Field(default=8, ge=1, le=100)
    initial_backoff: Duration = timedelta(seconds=1)
    max_backoff: Duration = timedelta(seconds=60)
    multiplier: float = Field(default=2.0, ge=1.0)
    # after max_attempts the message stays in the outbox and is tried again after this pause
    # (and at every restart): an undeliverable alert is parked, never dropped
    park_for: Duration = timedelta(minutes=5)
    request_timeout: Duration = timedelta(seconds=10)


class DestinationBase(_Section):
    enabled: bool = True
    # only these kinds reach the destination (all when unset)
    kinds: list[AlertKind] | None = None
    retry: RetryConfig = Field(default_factory=RetryConfig)


class PagerDutyConfig(DestinationBase):
    """PagerDuty Events API v2. EU accounts use ``https://events.eu.pagerduty.com/v2/enqueue``."""

    routing_key: SecretStr | None = None
    routing_key_env: str = "PAGERDUTY_ROUTING_KEY"
    url: str = "https://events.pagerduty.com/v2/enqueue"
    source: str = "swapwatch"
    # PagerDuty documents about 120 events per minute per routing key
    events_per_minute: float = Field(default=120.0, gt=0)
    burst: int = Field(default=10, ge=1)

    def resolved_routing_key(self, environ: Mapping[str, str] | None = None) -> str | None:
        if self.routing_key is not None:
            return self.routing_key.get_secret_value()
        return (os.environ if environ is None else environ).get(self.routing_key_env) or None


class SlackConfig(DestinationBase):
    """Slack incoming webhook (about one message per second per webhook)."""

    webhook_url: SecretStr | None = None
    webhook_url_env: str = "SLACK_WEBHOOK_URL"
    messages_per_second: float = Field(default=1.0, gt=0)

    def resolved_webhook_url(self, environ: Mapping[str, str] | None = None) -> str | None:
        if self.webhook_url is not None:
            return self.webhook_url.get_secret_value()
        return (os.environ if environ is None else environ).get(self.webhook_url_env) or None


class WebhookConfig(DestinationBase):
    """A generic webhook receiving Alertmanager-style JSON (one POST per notification)."""

    url: str
    messages_per_second: float = Field(default=10.0, gt=0)


class JsonlConfig(DestinationBase):
    """One ``Alert`` JSON object per line, on each firing and resolved notification.

    ``path: "-"`` writes to standard output.
    """

    path: str


class RouteConfig(_Section):
    """Alertmanager's grouping timers, in event time."""

    group_by: list[str] = Field(
        default_factory=lambda: ["kind", "provider", "request_model", "environment"]
    )
    group_wait: Duration = timedelta(seconds=30)
    group_interval: Duration = timedelta(minutes=5)
    repeat_interval: Duration = timedelta(hours=24)
    send_resolved: bool = True

    @model_validator(mode="after")
    def _positive(self) -> RouteConfig:
        if self.group_interval <= timedelta(0):
            raise ValueError("group_interval must be positive")
        if self.group_wait < timedelta(0) or self.repeat_interval <= timedelta(0):
            raise ValueError("group_wait must be >= 0 and repeat_interval > 0")
        return self


class MatcherConfig(_Section):
    name: str
    value: str
    op: Literal["=", "!=", "=~", "!~"] = "="


class SilenceConfig(_Section):
    matchers: list[MatcherConfig] = Field(min_length=1)
    starts_at: datetime
    ends_at: datetime
    comment: str = ""
    created_by: str = "config"


class InhibitRuleConfig(_Section):
    """A firing alert matching ``source`` mutes alerts matching ``target`` with equal labels."""

    source: list[MatcherConfig]
    target: list[MatcherConfig]
    equal: list[str] = Field(default_factory=list)


def _default_inhibit_rules() -> list[InhibitRuleConfig]:
    # a provider-wide incident explains the swap-looking shifts of that provider's keys
    return [InhibitRuleConfig(source=[MatcherConfig(name="kind", value="incident")],
                              target=[MatcherConfig(name="kind", value="swap")],
                              equal=["provider"])]


class AckConfig(_Section):
    """An operator's acknowledgement of the new regime of a key (dedup key or series slug)."""

    key: str
    at: datetime


class ResolveConfig(_Section):
    # a swap alert resolves once its new regime has been stable this long (event time)
    swap_stable_for: Duration | None = None
    acknowledged: list[AckConfig] = Field(default_factory=list)


class AlertsConfig(_Section):
    pagerduty: PagerDutyConfig | None = None
    slack: SlackConfig | None = None
    webhook: WebhookConfig | None = None
    jsonl: JsonlConfig | None = None
    route: RouteConfig = Field(default_factory=RouteConfig)
    inhibit_rules: list[InhibitRuleConfig] = Field(default_factory=_default_inhibit_rules)
    silences: list[SilenceConfig] = Field(default_factory=list)
    resolve: ResolveConfig = Field(default_factory=ResolveConfig)
    # links in PagerDuty and Slack point at {report_base_url}/alerts/{dedup_key}
    report_base_url: str | None = None
    # where the notification log, outbox, silences and acks live when no directory is given
    state_dir: Path | None = None
    # bound on alerts kept in memory (oldest resolved ones are evicted first)
    max_alerts: int = Field(default=10_000, ge=10)
