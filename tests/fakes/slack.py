"""A fake Slack incoming webhook, validating the documented contract.

200 ``ok`` for a JSON object with ``text`` (the notification fallback) and optional ``blocks``
(a list of at most 50 blocks, each an object with a known ``type``); 400 ``invalid_payload``
for malformed JSON, 400 ``no_text`` without text, 400 ``invalid_blocks`` for bad blocks;
``status_override`` answers 403 ``invalid_token``, 404 ``channel_not_found`` or 410
``channel_is_archived``. With ``enforce_rate`` it answers 429 with ``Retry-After`` when a
message comes less than ``min_interval`` seconds after the previous accepted one.
"""

from __future__ import annotations

import json
import time
from typing import Any

from fakes.base import FakeService, Reply

BLOCK_TYPES = {"section", "header", "context", "divider", "actions", "image", "rich_text",
               "input", "file", "video"}
ERROR_BODIES = {403: "invalid_token", 404: "channel_not_found", 410: "channel_is_archived"}
PATH = "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"


def validate_message(message: Any) -> str | None:
    if not isinstance(message, dict):
        return "invalid_payload"
    text = message.get("text")
    if not isinstance(text, str) or not text.strip():
        return "no_text"
    if len(text) > 40_000:
        return "invalid_payload"
    blocks = message.get("blocks")
    if blocks is None:
        return None
    if not isinstance(blocks, list) or len(blocks) > 50:
        return "invalid_blocks"
    for block in blocks:
        if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
            return "invalid_blocks"
        inner = block.get("text")
        if block["type"] == "header" and (not isinstance(inner, dict)
                                          or inner.get("type") != "plain_text"
                                          or len(inner.get("text", "")) > 150):
            return "invalid_blocks"
        if block["type"] == "section" and (not isinstance(inner, dict)
                                           or len(inner.get("text", "")) > 3000):
            return "invalid_blocks"
        if block["type"] == "context" and not isinstance(block.get("elements"), list):
            return "invalid_blocks"
    return None


class FakeSlack(FakeService):
    def __init__(self, enforce_rate: bool = False, min_interval: float = 1.0) -> None:
        super().__init__()
        self.enforce_rate = enforce_rate
        self.min_interval = min_interval
        self.status_override: int | None = None
        self._last_ok: float | None = None

    @property
    def url(self) -> str:
        return self.base_url + PATH

    def messages(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.received if r.reply.status == 200]

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        if path != PATH:
            return Reply(404, "no_service", "text/plain")
        if self.status_override is not None:
            return Reply(self.status_override, ERROR_BODIES.get(self.status_override, "error"),
                         "text/plain")
        try:
            message = json.loads(raw)
        except ValueError:
            return Reply(400, "invalid_payload", "text/plain")
        error = validate_message(message)
        if error:
            return Reply(400, error, "text/plain")
        now = time.monotonic()
        # a little slack for scheduling noise between the client's clock and ours
        if (self.enforce_rate and self._last_ok is not None
                and now - self._last_ok < self.min_interval * 0.9):
            return rate_limited(1)
        self._last_ok = now
        return Reply(200, "ok", "text/plain")


def rate_limited(retry_after: int = 1) -> Reply:
    return Reply(429, "rate_limited", "text/plain", {"Retry-After": str(retry_after)})
