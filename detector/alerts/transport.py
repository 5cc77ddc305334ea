"""One JSON POST over plain HTTP (stdlib), answered as the notifier contract wants it.

PagerDuty's and the generic webhook's contracts are a status code and a small JSON body, so
the standard library is simpler than a client that retries on its own (the ``pagerduty``
client retries 429 forever; retries belong to the courier). Network failures are recoverable.

>>> post_json("http://127.0.0.1:9/nowhere", {"a": 1}, timeout=0.5)
RecoverableError(reason='network: ...', retry_after=None)
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from swapwatch.detector.alerts.notification import (
    DeliveryError,
    RecoverableError,
    classify_http,
    parse_retry_after,
)

USER_AGENT = "swapwatch-alerts/1"


def post_json(url: str, body: dict[str, Any], timeout: float,
              headers: dict[str, str] | None = None) -> DeliveryError | None:
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": USER_AGENT, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return classify_http(response.status, response.read().decode(errors="replace"))
    except urllib.error.HTTPError as err:
        text = err.read().decode(errors="replace")
        return classify_http(err.code, text, parse_retry_after(err.headers.get("Retry-After")))
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        return RecoverableError(f"network: {err}")
