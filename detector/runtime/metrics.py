"""The detector's own health: Prometheus metrics and a ``/healthz`` endpoint.

Rates (spans/s, calls/s) are ``rate()`` of the counters, as Prometheus expects.

>>> m = RuntimeMetrics()
>>> m.calls.inc(3)
>>> m.alerts.labels(kind="swap").inc()
>>> b"swapwatch_calls_total 3.0" in m.exposition()
True
>>> server = MetricsServer(m, host="127.0.0.1", port=0, health=lambda: (True, "ok"))
>>> import urllib.request
>>> urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz").read()
b'ok'
>>> server.close()
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

HealthCheck = Callable[[], tuple[bool, str]]


class RuntimeMetrics:
    """Every metric of the runtime, in a registry of its own (tests build many)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.spans = Counter("swapwatch_spans", "Spans decoded from the spans topic", registry=r)
        self.calls = Counter("swapwatch_calls", "LLM calls fed to detection", registry=r)
        self.duplicates = Counter("swapwatch_duplicate_calls",
                                  "Redelivered calls dropped by the dedup window", registry=r)
        self.keys = Gauge("swapwatch_series_keys", "Series keys with detector state",
                          registry=r)
        self.lag = Gauge("swapwatch_consumer_lag", "Records behind the partition's end",
                         ["topic", "partition"], registry=r)
        self.alerts = Counter("swapwatch_alerts", "Alerts raised by detection", ["kind"],
                              registry=r)
        self.decode_errors = Counter("swapwatch_decode_errors",
                                     "Records that could not be decoded (dead-lettered)",
                                     ["stage", "reason"], registry=r)
        self.dead_letters = Counter("swapwatch_dead_letters",
                                    "Records written to the dead-letter topic", registry=r)
        self.checkpoints = Counter("swapwatch_checkpoints", "Checkpoints completed", ["reason"],
                                   registry=r)
        self.checkpoint_age = Gauge("swapwatch_checkpoint_age_seconds",
                                    "Seconds since the oldest owned partition's checkpoint",
                                    registry=r)
        self.partitions = Gauge("swapwatch_assigned_partitions",
                                "Partitions this consumer owns", ["topic"], registry=r)
        self.states_discarded = Counter(
            "swapwatch_states_discarded",
            "Partition state files that could not be read (moved aside; the partition "
            "started from fresh state)", ["reason"], registry=r)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class MetricsServer:
    """``/metrics`` and ``/healthz`` on a daemon thread; ``port=0`` picks a free port."""

    def __init__(self, metrics: RuntimeMetrics, host: str, port: int,
                 health: HealthCheck) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] == "/metrics":
                    status, ctype, body = 200, CONTENT_TYPE_LATEST, metrics.exposition()
                elif self.path.split("?")[0] == "/healthz":
                    ok, why = health()
                    status, ctype, body = (200 if ok else 503), "text/plain", why.encode()
                else:
                    status, ctype, body = 404, "text/plain", b"not found"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # scrapes every few seconds are not worth a log line

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="swapwatch-metrics", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
