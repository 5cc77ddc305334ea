"""A fake PagerDuty Events API v2 (``POST /v2/enqueue``), validating the documented contract.

202 ``{"status": "success", "message": "Event processed", "dedup_key": ...}`` for a valid
event; 400 ``{"status": "invalid event", "message": ..., "errors": [...]}`` otherwise;
optional rate limit (events per window per routing key, like PagerDuty's ~120/min) answered
with 429; scripted replies for 429/5xx. Tracks incidents by dedup key, and counts *pages*:
a trigger opens (pages) only when no incident is open under that dedup key.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fakes.base import FakeService, Reply

ACTIONS = {"trigger", "acknowledge", "resolve"}
SEVERITIES = {"critical", "error", "warning", "info"}


def validate_event(event: Any) -> list[str]:
    """The checks PagerDuty documents for Events API v2."""
    if not isinstance(event, dict):
        return ["Event object is invalid"]
    errors = []
    key = event.get("routing_key")
    if not isinstance(key, str) or len(key) != 32:
        errors.append("'routing_key' must be a 32 character string")
    action = event.get("event_action")
    if action not in ACTIONS:
        errors.append("'event_action' is invalid (must be trigger, acknowledge or resolve)")
    dedup = event.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or not 0 < len(dedup) <= 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not dedup:
        errors.append("'dedup_key' is required for acknowledge and resolve")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            return [*errors, "'payload' is missing or invalid"]
        summary = payload.get("summary")
        if not isinstance(summary, str) or not summary or len(summary) > 1024:
            errors.append("'payload.summary' is required and at most 1024 characters")
        if not isinstance(payload.get("source"), str) or not payload.get("source"):
            errors.append("'payload.source' is required")
        if payload.get("severity") not in SEVERITIES:
            errors.append("'payload.severity' must be critical, error, warning or info")
        if "timestamp" in payload:
            try:
                datetime.fromisoformat(str(payload["timestamp"]).replace("Z", "+00:00"))
            except ValueError:
                errors.append("'payload.timestamp' must be ISO 8601")
        details = payload.get("custom_details")
        if details is not None and not isinstance(details, dict | str):
            errors.append("'payload.custom_details' must be an object")
        for link in event.get("links", []):
            if not isinstance(link, dict) or not isinstance(link.get("href"), str):
                errors.append("'links' entries need an 'href'")
    if len(json.dumps(event)) > 512 * 1024:
        errors.append("event is larger than 512 KB")
    return errors


@dataclass
class Incident:
    dedup_key: str
    status: str  # triggered | acknowledged | resolved
    triggers: int = 0
    opened: int = 1
    events: list[dict[str, Any]] = field(default_factory=list)


class FakePagerDuty(FakeService):
    def __init__(self, limit: tuple[int, float] | None = None) -> None:
        super().__init__()
        self.limit = limit  # (events, window seconds) per routing key, else unlimited
        self.incidents: dict[str, Incident] = {}
        self.pages = 0
        self._recent: dict[str, deque[float]] = defaultdict(deque)

    @property
    def url(self) -> str:
        return self.base_url + "/v2/enqueue"

    def accepted(self, action: str | None = None) -> list[dict[str, Any]]:
        events = [r.json() for r in self.received if r.reply.status == 202]
        return [e for e in events if action is None or e["event_action"] == action]

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        if path != "/v2/enqueue":
            return Reply(404, json.dumps({"status": "not found"}))
        try:
            event = json.loads(raw)
        except ValueError:
            return self._invalid(["Invalid JSON"])
        errors = validate_event(event)
        if errors:
            return self._invalid(errors)
        if self.limit is not None:
            count, window = self.limit
            recent, now = self._recent[event["routing_key"]], time.monotonic()
            while recent and recent[0] <= now - window:
                recent.popleft()
            if len(recent) >= count:
                return Reply(429, json.dumps({"status": "throttle event",
                                              "message": "Requests for this service are arriving "
                                                         "too quickly."}))
            recent.append(now)
        dedup = event.get("dedup_key") or uuid.uuid4().hex
        self._apply(event["event_action"], dedup, event)
        return Reply(202, json.dumps({"status": "success", "message": "Event processed",
                                      "dedup_key": dedup}))

    def _apply(self, action: str, dedup: str, event: dict[str, Any]) -> None:
        incident = self.incidents.get(dedup)
        if action == "trigger":
            if incident is None or incident.status == "resolved":
                self.pages += 1
                opened = 1 if incident is None else incident.opened + 1
                incident = self.incidents[dedup] = Incident(dedup, "triggered", opened=opened)
            incident.triggers += 1
        elif incident is not None and incident.status != "resolved":
            incident.status = "resolved" if action == "resolve" else "acknowledged"
        if incident is not None:
            incident.events.append(event)

    @staticmethod
    def _invalid(errors: list[str]) -> Reply:
        return Reply(400, json.dumps({"status": "invalid event",
                                      "message": "Event object is invalid", "errors": errors}))


def throttled() -> Reply:
    return Reply(429, json.dumps({"status": "throttle event", "message": "Too many requests"}))


def server_error(status: int = 500) -> Reply:
    return Reply(status, json.dumps({"status": "error", "message": "Internal error"}))
