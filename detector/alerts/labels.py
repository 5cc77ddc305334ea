"""Alert labels and Alertmanager-style matchers (``=``, ``!=``, ``=~``, ``!~``).

An alert's labels are its series key's labels plus ``kind``, ``severity`` and ``dedup_key``.
A missing label reads as the empty string; regular expressions are anchored (full match).

>>> from datetime import datetime, timezone
>>> from swapwatch.detector.alerts.alert import Alert, AlertKey
>>> t = datetime(2026, 3, 2, tzinfo=timezone.utc)
>>> a = Alert(kind="swap", key=AlertKey(provider="openai", request_model="gpt-4o"),
...           detected_at=t, changed_at=t, summary="s")
>>> labels = alert_labels(a)
>>> labels["kind"], labels["provider"]
('swap', 'openai')
>>> all_match([MatcherConfig(name="request_model", value="gpt-4.*", op="=~"),
...            MatcherConfig(name="surface", value="", op="=")], labels)
True
>>> parse_matcher("provider!=anthropic")
MatcherConfig(name='provider', value='anthropic', op='!=')
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

from swapwatch.detector.alerts.alert import Alert
from swapwatch.detector.alerts.config import MatcherConfig


def alert_labels(alert: Alert) -> dict[str, str]:
    return {**alert.key.labels(), "kind": alert.kind, "severity": alert.severity,
            "dedup_key": alert.dedup_key}


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def matches(matcher: MatcherConfig, labels: Mapping[str, str]) -> bool:
    value = labels.get(matcher.name, "")
    if matcher.op == "=":
        return value == matcher.value
    if matcher.op == "!=":
        return value != matcher.value
    found = _regex(matcher.value).fullmatch(value) is not None
    return found if matcher.op == "=~" else not found


def all_match(matchers: Iterable[MatcherConfig], labels: Mapping[str, str]) -> bool:
    return all(matches(m, labels) for m in matchers)


_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


def parse_matcher(text: str) -> MatcherConfig:
    """``name=value``, ``name!=value``, ``name=~regex``, ``name!~regex`` (quotes optional)."""
    found = _MATCHER.match(text)
    if not found:
        raise ValueError(f"not a matcher: {text!r} (expected name=value, !=, =~ or !~)")
    name, op, value = found.groups()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    if op in ("=~", "!~"):
        re.compile(value)
    return MatcherConfig.model_validate({"name": name, "value": value, "op": op})
