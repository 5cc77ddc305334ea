"""The one wiring of detection: calls → dedup → detector → alerts, in event time.

Replay (``swapwatch detect --input``), the in-process demo and the Kafka consumer group all
feed :class:`Pipeline`; only the source in front of it differs. Time is the calls' own: the
alert stage is advanced to the latest span end seen, never to the wall clock, so replaying a
file at any speed gives the alerts that streaming it gave.

>>> from swapwatch.detector.calls import LlmCall
>>> sink = CollectingSink()
>>> p = Pipeline(CountingDetector(), sink, dedup=DedupWindow(10))
>>> c = LlmCall(start_ns=1_000, end_ns=2_000_000_000, trace_id="t", span_id="s")
>>> p.process([c, c])  # the second is a redelivery
[]
>>> p.detector.calls, p.watermark_ns, sink.now.year
(1, 2000000000, 1970)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import IO, Any, Protocol

from swapwatch.detector.alerts.alert import Alert
from swapwatch.detector.calls import LlmCall
from swapwatch.detector.runtime.dedup import DedupWindow
from swapwatch.detector.runtime.metrics import RuntimeMetrics
from swapwatch.detector.runtime.records import call_identity


class CallDetector(Protocol):
    """Detection as the runtime sees it (``swapwatch.detector.detection.Detector``)."""

    def process(self, call: LlmCall) -> list[Alert]: ...

    def flush(self, now_ns: int | None = None) -> list[Alert]: ...


class AlertSink(Protocol):
    """Alert delivery as the runtime sees it (the alerts dispatcher)."""

    def submit(self, alerts: Sequence[Alert]) -> Any: ...

    def advance(self, now: datetime) -> Any: ...

    def flush(self) -> Any: ...


class CollectingSink:
    """An :class:`AlertSink` that keeps what it was given (demo, tests, ``--alerts-out``)."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self.now: datetime | None = None

    def submit(self, alerts: Sequence[Alert]) -> None:
        self.alerts.extend(alerts)

    def advance(self, now: datetime) -> None:
        self.now = now

    def flush(self) -> None:
        pass


class CountingDetector:
    """A picklable stand-in detector that counts calls and never alerts (runtime tests)."""

    def __init__(self) -> None:
        self.calls = 0

    def process(self, call: LlmCall) -> list[Alert]:
        self.calls += 1
        return []

    def flush(self, now_ns: int | None = None) -> list[Alert]:
        return []


class AlertLog:
    """An :class:`AlertSink` that writes every raised alert as a JSON line (``--alerts-out``)
    and hands it on to the delivery pipeline, if one is configured."""

    def __init__(self, out: IO[str], forward: AlertSink | None = None) -> None:
        self.out = out
        self.forward = forward
        self.written = 0

    def submit(self, alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            self.out.write(alert.to_json_line() + "\n")
        self.written += len(alerts)
        if self.forward is not None:
            self.forward.submit(alerts)

    def advance(self, now: datetime) -> None:
        if self.forward is not None:
            self.forward.advance(now)

    def flush(self) -> None:
        self.out.flush()
        if self.forward is not None:
            self.forward.flush()


def event_time(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)


class Pipeline:
    """Feeds calls to one detector and its alert sink; the unit of state is one pipeline."""

    def __init__(self, detector: CallDetector, alerts: AlertSink,
                 metrics: RuntimeMetrics | None = None, dedup: DedupWindow | None = None,
                 watermark_ns: int = 0) -> None:
        self.detector = detector
        self.alerts = alerts
        self.metrics = metrics or RuntimeMetrics()
        self.dedup = dedup if dedup is not None else DedupWindow(0)
        self.watermark_ns = watermark_ns

    def process(self, calls: Iterable[LlmCall]) -> list[Alert]:
        """Detect on ``calls`` in order; returns the alerts raised (already submitted)."""
        raised: list[Alert] = []
        advanced = False
        detected = 0  # counted once per batch (a metric's inc() takes a lock), and before alerts
        try:
            for call in calls:
                identity = call_identity(call)
                if identity is not None and not self.dedup.add(identity):
                    self.metrics.duplicates.inc()
                    continue
                detected += 1
                alerts = self.detector.process(call)
                if call.end_ns > self.watermark_ns:
                    self.watermark_ns = call.end_ns
                    advanced = True
                if alerts:
                    self.metrics.calls.inc(detected)  # the calls before the alerts they raised
                    detected = 0
                    for alert in alerts:
                        self.metrics.alerts.labels(kind=alert.kind).inc()
                    self.alerts.submit(alerts)
                    raised.extend(alerts)
                    # alerts at their own event time, so grouping windows see them in order
                    self.alerts.advance(event_time(self.watermark_ns))
                    advanced = False
        finally:
            self.metrics.calls.inc(detected)
        if advanced:
            self.alerts.advance(event_time(self.watermark_ns))
        return raised

    def finish(self) -> list[Alert]:
        """End of a finite input: release what the detector still holds (its reorder buffer)."""
        alerts = self.detector.flush()
        if alerts:
            for alert in alerts:
                self.metrics.alerts.labels(kind=alert.kind).inc()
            self.alerts.submit(alerts)
        self.alerts.advance(event_time(self.watermark_ns))
        return alerts

    def flush(self) -> None:
        """Deliver (or durably queue) everything raised so far: step 1 of a checkpoint."""
        self.alerts.flush()
