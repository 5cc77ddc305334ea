"""What the demo watches as calls pass detection: per-key counts, served models, shifted
signals and alerts (for the live view and the verdict), and the report's recording.

:class:`ObservedDetector` is the detector the runtime is given (embedded or on Kafka): it
passes every call to the real :class:`~swapwatch.detector.detection.engine.Detector` and then
tells :class:`LiveState`. The tap is read from another thread (the live view) only through
:meth:`LiveState.snapshot`, under a lock; it never raises into detection.

>>> from swapwatch.detector.calls import LlmCall
>>> from swapwatch.detector.detection.engine import Detector
>>> live = LiveState()
>>> detector = ObservedDetector(Detector(), live)
>>> call = LlmCall(start_ns=0, end_ns=10**9, service="shop", surface="qa", provider="openai",
...                request_model="gpt-4o", response_model="gpt-4o-mini-2024-07-18")
>>> [a.kind for a in detector.process(call) + detector.flush()]
['identity']
>>> view = live.snapshot()
>>> view.calls, view.keys[0].surface, view.keys[0].served, [a.kind for a in view.alerts]
(1, 'qa', {'gpt-4o-mini-2024-07-18': 1}, ['identity'])
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from swapwatch.detector.alerts.alert import Alert
from swapwatch.detector.calls import LlmCall
from swapwatch.detector.detection.engine import Detector
from swapwatch.detector.detection.keys import SeriesKey

log = logging.getLogger(__name__)

_SIGNALS_EVERY = 16  # calls of a key between two reads of its learners' state
MAX_END_TIMES = 200_000  # per key, for counting calls between a change and its detection


@dataclass
class KeyView:
    """One key as the live view shows it."""

    key: SeriesKey
    calls: int = 0
    errors: int = 0
    served: dict[str, int] = field(default_factory=dict)
    shifted: list[str] = field(default_factory=list)
    warm: bool = False

    @property
    def surface(self) -> str:
        return self.key.surface or self.key.service or "?"


@dataclass
class LiveView:
    calls: int
    keys: list[KeyView]
    alerts: list[Alert]
    last_end_ns: int


class _KeyState:
    __slots__ = ("calls", "end_times", "errors", "served", "shifted", "warm")

    def __init__(self) -> None:
        self.calls = 0
        self.errors = 0
        self.served: Counter[str] = Counter()
        self.shifted: list[str] = []
        self.warm = False
        self.end_times: list[int] = []


class LiveState:
    """Thread-safe running picture of what detection has seen and said.

    ``recorder`` (a :class:`~swapwatch.detector.report.sources.ReportRecorder`) also sees
    every call, for the charts of the final report.
    """

    def __init__(self, recorder: Any = None) -> None:
        self.recorder = recorder
        self._lock = threading.Lock()
        self._keys: dict[SeriesKey, _KeyState] = {}
        self._alerts: list[Alert] = []
        self._calls = 0
        self._last_end_ns = 0
        self.tap_errors = 0

    def observe(self, call: LlmCall, alerts: list[Alert], detector: Detector | None) -> None:
        try:
            self._observe(call, alerts, detector)
        except Exception:  # the view must never break detection
            self.tap_errors += 1
            log.exception("demo tap failed")

    def _observe(self, call: LlmCall, alerts: list[Alert], detector: Detector | None) -> None:
        key = SeriesKey.of(call)
        with self._lock:
            state = self._keys.get(key)
            if state is None:
                state = self._keys[key] = _KeyState()
            state.calls += 1
            self._calls += 1
            if call.is_error:
                state.errors += 1
            elif call.response_model:
                state.served[call.response_model] += 1
            if len(state.end_times) < MAX_END_TIMES:
                bisect.insort(state.end_times, call.end_ns)
            self._last_end_ns = max(self._last_end_ns, call.end_ns)
            self._alerts.extend(alerts)
            if self.recorder is not None:
                self.recorder.observe(call)
            if detector is not None and (state.calls % _SIGNALS_EVERY == 0 or alerts):
                self._read_signals(detector)

    def _read_signals(self, detector: Detector) -> None:
        for key, state in self._keys.items():
            learners = detector.learners(key)
            if learners:
                state.shifted = [lr.name for lr in learners if lr.shifted]
                state.warm = any(lr.warm for lr in learners)

    def record_alerts(self, alerts: list[Alert]) -> None:
        with self._lock:
            self._alerts.extend(alerts)

    def refresh_signals(self, detector: Detector) -> None:
        with self._lock:
            self._read_signals(detector)

    def snapshot(self) -> LiveView:
        with self._lock:
            keys = [KeyView(key, s.calls, s.errors, dict(s.served), list(s.shifted), s.warm)
                    for key, s in self._keys.items()]
            return LiveView(self._calls, keys, list(self._alerts), self._last_end_ns)

    def calls_between(self, key: SeriesKey, from_ns: int, to_ns: int) -> int:
        """Calls of ``key`` that ended in ``[from_ns, to_ns]``."""
        with self._lock:
            state = self._keys.get(key)
            if state is None:
                return 0
            times = state.end_times
            return bisect.bisect_right(times, to_ns) - bisect.bisect_left(times, from_ns)


class ObservedDetector:
    """A detector that also reports to a :class:`LiveState` (not pickled with it)."""

    def __init__(self, detector: Detector, live: LiveState | None) -> None:
        self.detector = detector
        self.live = live

    def process(self, call: LlmCall) -> list[Alert]:
        alerts = self.detector.process(call)
        if self.live is not None:
            self.live.observe(call, alerts, self.detector)
        return alerts

    def flush(self, now_ns: int | None = None) -> list[Alert]:
        """Release what the reorder buffer holds up to ``now_ns`` (``None``: end of input,
        everything, the learners' staged calls too)."""
        alerts = self.detector.flush(now_ns)
        if self.live is not None:
            self.live.record_alerts(alerts)
            self.live.refresh_signals(self.detector)
        return alerts

    def ledgers(self) -> list[Any]:
        return self.detector.ledgers()

    def __getstate__(self) -> dict[str, Any]:
        return {"detector": self.detector, "live": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
