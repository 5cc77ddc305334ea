"""Human-readable facts about an alert, shared by the Slack and PagerDuty renderers.

Detection writes ``Alert.evidence`` freely; these helpers read the shapes it uses, tolerantly:
``evidence["signals"]`` as ``{signal: {"before": ..., "after": ...}}`` or as a list of
``{"signal"|"name": ..., "before": ..., "after": ...}``, or, as detection's swap alerts do,
``evidence[signal]`` itself as ``{"before": ..., "after": ..., ...}`` for each of
``alert.signals``; ``evidence["regime"]`` (or ``"served_by"``) for what serves the new regime.

>>> from datetime import datetime, timezone
>>> from swapwatch.detector.alerts.alert import Alert, AlertKey
>>> t = datetime(2026, 3, 2, 14, 5, tzinfo=timezone.utc)
>>> a = Alert(kind="swap", key=AlertKey(provider="openai", request_model="gpt-4o"),
...           signals=["decode_rate"], detected_at=t, changed_at=t, summary="s",
...           evidence={"signals": {"decode_rate": {"before": 92.14, "after": 41.0}},
...                     "regime": {"served_by": "gpt-4o-2024-08-06"}})
>>> signal_rows(a)
[('decode_rate', '92.14', '41')]
>>> signal_rows(a.model_copy(update={"evidence": {"decode_rate": {
...     "before": 0.01, "after": -0.455, "relative_change": -0.37}}}))
[('decode_rate', '0.01', '-0.455')]
>>> regime_text(a)
'served_by=gpt-4o-2024-08-06'
>>> headline(a)
'Model swap suspected: openai gpt-4o'
"""

from __future__ import annotations

from typing import Any

from swapwatch.detector.alerts.alert import Alert

_TITLES = {"swap": "Model swap suspected", "identity": "Served model is not the requested one",
           "incident": "Provider-wide incident", "divergence": "Divergence"}


def fmt(value: Any, limit: int = 120) -> str:
    """A short display form of an evidence value."""
    if isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, dict):
        text = ", ".join(f"{k}={fmt(v, 40)}" for k, v in value.items())
    elif isinstance(value, list | tuple):
        text = ", ".join(fmt(v, 40) for v in value)
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def headline(alert: Alert) -> str:
    what = " ".join(p for p in (alert.key.provider, alert.key.request_model) if p) or "?"
    title = _TITLES.get(alert.kind, alert.kind)
    if alert.status == "resolved":
        return f"Resolved: {title.lower()}: {what}"
    return f"{title}: {what}"


def signal_rows(alert: Alert) -> list[tuple[str, str, str]]:
    """``(signal, before, after)`` for each shifted signal, from the evidence when present."""
    raw = alert.evidence.get("signals")
    found: dict[str, tuple[str, str]] = {}
    if isinstance(raw, dict):
        for name, value in raw.items():
            if isinstance(value, dict):
                found[str(name)] = (fmt(value.get("before", "?")), fmt(value.get("after", "?")))
    elif isinstance(raw, list):
        for value in raw:
            if isinstance(value, dict):
                name = str(value.get("signal") or value.get("name") or "?")
                found[name] = (fmt(value.get("before", "?")), fmt(value.get("after", "?")))
    for name in alert.signals:  # detection's shape: one evidence entry per shifted signal
        own = alert.evidence.get(name)
        if name not in found and isinstance(own, dict) and ("before" in own or "after" in own):
            found[name] = (fmt(own.get("before", "?")), fmt(own.get("after", "?")))
    rows = [(name, *found.get(name, ("?", "?"))) for name in alert.signals]
    rows += [(name, *ba) for name, ba in found.items() if name not in alert.signals]
    return rows


def regime_text(alert: Alert) -> str | None:
    regime = alert.evidence.get("regime", alert.evidence.get("served_by"))
    return None if regime is None else fmt(regime, 300)


def series_text(alert: Alert) -> str:
    return ", ".join(f"{k}={v}" for k, v in alert.key.labels().items()) or "(all series)"


def report_link(base_url: str | None, alert: Alert) -> str | None:
    if not base_url:
        return None
    return f"{base_url.rstrip('/')}/alerts/{alert.dedup_key}"
