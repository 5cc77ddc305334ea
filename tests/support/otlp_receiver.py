"""A small local OTLP trace receiver for tests: what an OpenTelemetry Collector would receive.

Speaks OTLP/HTTP protobuf (``POST /v1/traces``, gzip or not) with aiohttp, and OTLP/gRPC
``TraceService/Export`` with grpcio. Metrics and logs (HTTP ``/v1/metrics``, ``/v1/logs`` and
their gRPC services) are accepted and only counted, as a collector would accept them, so a
service exporting every signal runs unchanged. Every decoded
``ExportTraceServiceRequest`` is kept, in arrival order, behind a lock; tests read them
with :meth:`OtlpReceiver.requests`, :meth:`OtlpReceiver.spans` or wait with
:meth:`OtlpReceiver.wait_for_spans`.

    with OtlpReceiver() as receiver:
        exporter = OTLPSpanExporter(endpoint=receiver.http_traces_url)   # http/protobuf
        exporter = OTLPSpanExporter(endpoint=receiver.grpc_endpoint, insecure=True)  # grpc
        ...
        spans = receiver.wait_for_spans(lambda s: len(s) >= 3)
        spans[0].attributes["gen_ai.request.model"]

Used by the instrumentation tests and by anyone who needs to see what the real OTLP
exporters send.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from concurrent import futures
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import grpc
from aiohttp import web
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

ExportTraceServiceRequest = trace_service_pb2.ExportTraceServiceRequest

_START_TIMEOUT_S = 10.0


def any_value(value: AnyValue) -> Any:
    """The Python value of an OTLP ``AnyValue`` (arrays become tuples, kvlists dicts)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return tuple(any_value(v) for v in value.array_value.values)
    if kind == "kvlist_value":
        return attributes_of(value.kvlist_value.values)
    return getattr(value, kind)


def attributes_of(key_values: Any) -> dict[str, Any]:
    """``repeated KeyValue`` → dict."""
    out: dict[str, Any] = {}
    kv: KeyValue
    for kv in key_values:
        out[kv.key] = any_value(kv.value)
    return out


@dataclass(frozen=True)
class ReceivedSpan:
    """One exported span with its resource and scope, attributes decoded to Python values."""

    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    start_ns: int
    end_ns: int
    attributes: Mapping[str, Any]
    resource: Mapping[str, Any]
    scope: str
    status_code: int
    transport: str  # "http" or "grpc"


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: OtlpReceiver) -> None:
        self._receiver = receiver

    def Export(self, request: Any, context: Any) -> Any:
        self._receiver._keep(request, "grpc")
        return trace_service_pb2.ExportTraceServiceResponse()


class _MetricsService(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, receiver: OtlpReceiver) -> None:
        self._receiver = receiver

    def Export(self, request: Any, context: Any) -> Any:  # gRPC method name
        self._receiver._count_other()
        return metrics_service_pb2.ExportMetricsServiceResponse()


class _LogsService(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, receiver: OtlpReceiver) -> None:
        self._receiver = receiver

    def Export(self, request: Any, context: Any) -> Any:  # gRPC method name
        self._receiver._count_other()
        return logs_service_pb2.ExportLogsServiceResponse()


class OtlpReceiver:
    """OTLP/HTTP (protobuf) and OTLP/gRPC trace receiver on local ports; thread-safe."""

    def __init__(self, *, http: bool = True, grpc_server: bool = True,
                 host: str = "127.0.0.1") -> None:
        self.host = host
        self._want_http = http
        self._want_grpc = grpc_server
        self._lock = threading.Condition()
        self._requests: list[tuple[str, Any]] = []
        self._other_signals = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._grpc: grpc.Server | None = None
        self._http_port: int | None = None
        self._grpc_port: int | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> OtlpReceiver:
        if self._want_http:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=_run_loop, args=(loop,), daemon=True,
                                      name="otlp-receiver-http")
            self._loop, self._thread = loop, thread
            thread.start()
            future = asyncio.run_coroutine_threadsafe(self._serve_http(), loop)
            self._http_port = future.result(timeout=_START_TIMEOUT_S)
        if self._want_grpc:
            server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
            trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(self), server)
            metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(
                _MetricsService(self), server)
            logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_LogsService(self), server)
            self._grpc_port = server.add_insecure_port(f"{self.host}:0")
            server.start()
            self._grpc = server
        return self

    def stop(self) -> None:
        if self._grpc is not None:
            self._grpc.stop(grace=None)
            self._grpc = None
        loop, thread, runner = self._loop, self._thread, self._runner
        if loop is not None and thread is not None:
            if runner is not None:
                asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(_START_TIMEOUT_S)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(_START_TIMEOUT_S)
        self._loop = self._thread = self._runner = None

    def __enter__(self) -> OtlpReceiver:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    async def _serve_http(self) -> int:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/traces", self._http_traces)
        app.router.add_post("/v1/metrics", self._http_other)
        app.router.add_post("/v1/logs", self._http_other)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        self._runner = runner
        site = web.TCPSite(runner, self.host, 0)
        await site.start()
        return int(runner.addresses[0][1])

    # -- addresses -----------------------------------------------------------------------

    @property
    def http_endpoint(self) -> str:
        """Base URL for ``OTEL_EXPORTER_OTLP_ENDPOINT`` with ``http/protobuf``."""
        if self._http_port is None:
            raise RuntimeError("HTTP receiver is not running")
        return f"http://{self.host}:{self._http_port}"

    @property
    def http_traces_url(self) -> str:
        """Full URL for ``OTLPSpanExporter(endpoint=...)`` (HTTP) and ``..._TRACES_ENDPOINT``."""
        return f"{self.http_endpoint}/v1/traces"

    @property
    def grpc_endpoint(self) -> str:
        """``http://host:port`` for the gRPC exporter (plaintext)."""
        if self._grpc_port is None:
            raise RuntimeError("gRPC receiver is not running")
        return f"http://{self.host}:{self._grpc_port}"

    # -- HTTP handlers -------------------------------------------------------------------

    async def _http_traces(self, request: web.Request) -> web.Response:
        if request.content_type != "application/x-protobuf":
            return web.Response(status=415, text="only application/x-protobuf")
        body = await request.read()
        encoding = request.headers.get("Content-Encoding", "").lower()
        try:
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            message = ExportTraceServiceRequest.FromString(body)
        except Exception as err:  # a bad body is the sender's error
            return web.Response(status=400, text=f"undecodable: {err}")
        self._keep(message, "http")
        return web.Response(body=trace_service_pb2.ExportTraceServiceResponse().SerializeToString(),
                            content_type="application/x-protobuf")

    async def _http_other(self, request: web.Request) -> web.Response:
        await request.read()
        self._count_other()
        return web.Response(body=b"", content_type="application/x-protobuf")

    # -- what arrived --------------------------------------------------------------------

    def _keep(self, message: Any, transport: str) -> None:
        with self._lock:
            self._requests.append((transport, message))
            self._lock.notify_all()

    def _count_other(self) -> None:
        with self._lock:
            self._other_signals += 1

    def requests(self) -> list[Any]:
        """Every decoded ``ExportTraceServiceRequest`` so far, in arrival order."""
        with self._lock:
            return [message for _, message in self._requests]

    @property
    def other_signal_requests(self) -> int:
        with self._lock:
            return self._other_signals

    def spans(self) -> list[ReceivedSpan]:
        """Every received span, flattened, with decoded attributes."""
        with self._lock:
            received = list(self._requests)
        out: list[ReceivedSpan] = []
        for transport, message in received:
            for resource_spans in message.resource_spans:
                resource = attributes_of(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        out.append(ReceivedSpan(
                            name=span.name, kind=span.kind, trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(), parent_span_id=span.parent_span_id.hex(),
                            start_ns=span.start_time_unix_nano, end_ns=span.end_time_unix_nano,
                            attributes=attributes_of(span.attributes), resource=resource,
                            scope=scope_spans.scope.name, status_code=span.status.code,
                            transport=transport))
        return out

    def wait_for_spans(self, done: Callable[[list[ReceivedSpan]], bool],
                       timeout_s: float = 15.0) -> list[ReceivedSpan]:
        """Block until ``done(spans())`` holds; raises ``TimeoutError`` with what arrived."""
        deadline = time.monotonic() + timeout_s
        while True:
            spans = self.spans()
            if done(spans):
                return spans
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"OTLP receiver: condition not met; got {len(spans)} spans: "
                                   f"{[s.name for s in spans]}")
            with self._lock:
                self._lock.wait(min(remaining, 0.2))

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._other_signals = 0


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        loop.close()
