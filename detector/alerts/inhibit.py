"""Inhibition: a firing source alert mutes target alerts that share the ``equal`` labels.

The default rule: an ``incident`` on a provider mutes ``swap`` alerts on that provider's keys
(a provider-wide slowdown explains the shifts; one page is enough).

>>> from datetime import datetime, timezone
>>> from swapwatch.detector.alerts.alert import Alert, AlertKey
>>> from swapwatch.detector.alerts.config import AlertsConfig
>>> t = datetime(2026, 3, 2, tzinfo=timezone.utc)
>>> incident = Alert(kind="incident", key=AlertKey(provider="openai"), detected_at=t,
...                  changed_at=t, summary="openai-wide latency shift")
>>> swap = Alert(kind="swap", key=AlertKey(provider="openai", request_model="gpt-4o"),
...              detected_at=t, changed_at=t, summary="s")
>>> rules = AlertsConfig().inhibit_rules
>>> inhibited_by(swap, [incident], rules)
'inhibited by incident/-/-/openai/-/-'
>>> inhibited_by(swap.model_copy(update={"key": AlertKey(provider="anthropic")}),
...              [incident], rules) is None
True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from swapwatch.detector.alerts.alert import Alert
from swapwatch.detector.alerts.config import InhibitRuleConfig
from swapwatch.detector.alerts.labels import alert_labels, all_match


def inhibited_by(alert: Alert, firing: Iterable[Alert],
                 rules: Sequence[InhibitRuleConfig]) -> str | None:
    """Why ``alert`` is muted by another firing alert, or ``None``."""
    labels = alert_labels(alert)
    targeted = [r for r in rules if all_match(r.target, labels)]
    if not targeted:
        return None
    for source in firing:
        if source.status != "firing" or source.dedup_key == alert.dedup_key:
            continue
        source_labels = alert_labels(source)
        for rule in targeted:
            if all_match(rule.source, source_labels) and all(
                    source_labels.get(n, "") == labels.get(n, "") for n in rule.equal):
                return f"inhibited by {source.dedup_key}"
    return None
