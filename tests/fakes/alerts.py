"""Alerts as detection would emit them, for the alert pipeline's tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from swapwatch.detector.alerts.alert import Alert, AlertKey, AlertKind

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
ROUTING_KEY = "R0UT1NGKEY0123456789abcdef012345"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def swap(surface: str = "chat", model: str = "gpt-4o", provider: str = "openai",
         detected: float = 0.0, changed: float | None = None, kind: AlertKind = "swap",
         **extra: Any) -> Alert:
    key = AlertKey(service="api", surface=surface, provider=provider, request_model=model,
                   environment="prod")
    return Alert(
        kind=kind, key=key, signals=["decode_rate", "output_tokens", "cost"],
        detected_at=at(detected), changed_at=at(detected - 600 if changed is None else changed),
        summary=f"{model} on {surface}: 3 signals shifted together",
        evidence={"signals": {"decode_rate": {"before": 92.0, "after": 41.5},
                              "output_tokens": {"before": 310, "after": 180},
                              "cost": {"before": 0.0041, "after": 0.0009}},
                  "regime": {"served_by": f"{model}-2024-08-06", "fingerprint": "fp_new"}},
        delay_requests=57, **extra)


def incident(provider: str = "openai", detected: float = 0.0) -> Alert:
    return Alert(kind="incident", key=AlertKey(provider=provider), signals=["latency", "ttft"],
                 detected_at=at(detected), changed_at=at(detected - 300),
                 summary=f"{provider}: every key slowed down together")


def destinations(pd_url: str | None = None, slack_url: str | None = None,
                 **route: Any) -> dict[str, Any]:
    """An ``alerts:`` config section pointing at the fakes."""
    cfg: dict[str, Any] = {"report_base_url": "https://swapwatch.example",
                           "route": {"group_wait": "30s", "group_interval": "5m",
                                     "repeat_interval": "4h", **route}}
    fast = {"initial_backoff": 1, "max_backoff": 8, "max_attempts": 5, "request_timeout": 5}
    if pd_url:
        cfg["pagerduty"] = {"routing_key": ROUTING_KEY, "url": pd_url, "retry": fast}
    if slack_url:
        cfg["slack"] = {"webhook_url": slack_url, "retry": fast}
    return cfg
