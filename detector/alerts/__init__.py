"""Alerts: the record, and the pipeline that delivers it (group, inhibit, silence, dedup, retry)."""

from swapwatch.detector.alerts.alert import Alert, AlertKey, AlertKind, AlertStatus

__all__ = ["Alert", "AlertKey", "AlertKind", "AlertStatus"]
