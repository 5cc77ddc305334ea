"""Alerts: the record, and the pipeline that delivers it (group, inhibit, silence, dedup, retry).

The detector uses :class:`AlertDispatcher` (``submit``, ``advance``, ``drain``, ``flush``,
``close``); see :mod:`swapwatch.detector.alerts.dispatcher` for the two clocks and the
checkpoint order.
"""

from swapwatch.detector.alerts.alert import Alert, AlertKey, AlertKind, AlertStatus
from swapwatch.detector.alerts.config import AlertsConfig
from swapwatch.detector.alerts.dispatcher import AlertDispatcher, AlertsSetupError

__all__ = ["Alert", "AlertDispatcher", "AlertKey", "AlertKind", "AlertStatus", "AlertsConfig",
           "AlertsSetupError"]
