"""The OTLP receiver: gRPC (``TraceService/Export``) and HTTP (``POST /v1/traces``, protobuf
or JSON), both feeding one :class:`SpanIntake`.

Answers follow the OTLP specification: success only once Kafka acknowledged the spans;
``UNAVAILABLE`` (gRPC, with ``RetryInfo``) or ``503`` with ``Retry-After`` (HTTP) when Kafka is
down, slow or the pending buffer is full, so the client retries with backoff; ``400`` (HTTP) /
``INVALID_ARGUMENT`` (gRPC) with a message for payloads that can never succeed.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import threading
import zlib
from concurrent import futures
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
from aiohttp import web
from google.protobuf import duration_pb2
from google.protobuf.message import DecodeError
from google.rpc import code_pb2, error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from swapwatch.collector.config import CollectorConfig
from swapwatch.collector.filter import KafkaRecord, SpanRouter
from swapwatch.collector.producer import KafkaRejected, KafkaUnavailable
from swapwatch.detector.ingest.errors import MalformedInput
from swapwatch.detector.ingest.otlp_json import traces_from_json_line

log = logging.getLogger(__name__)
ExportTraceServiceRequest = trace_service_pb2.ExportTraceServiceRequest
ExportTraceServiceResponse = trace_service_pb2.ExportTraceServiceResponse
PROTOBUF = "application/x-protobuf"
JSON = "application/json"


class BadPayload(ValueError):
    """The request can never succeed as sent (400 / INVALID_ARGUMENT)."""


@dataclass
class IntakeCounts:
    requests: int = 0
    kept_spans: int = 0
    dropped_spans: int = 0
    refused_requests: int = 0
    bad_requests: int = 0


class SpanSink(Protocol):
    """Where kept spans go: Kafka (:class:`~swapwatch.collector.producer.SpanProducer`) or
    an in-process queue (``swapwatch demo``). ``publish`` returns once the records are
    accepted; it raises ``KafkaUnavailable`` (retry later) or ``KafkaRejected`` (never)."""

    def publish(self, records: list[KafkaRecord]) -> None: ...


class SpanIntake:
    """The one consume interface behind both protocols: filter, key, produce, acknowledge."""

    def __init__(self, router: SpanRouter, producer: SpanSink) -> None:
        self.router = router
        self.producer = producer
        self.counts = IntakeCounts()
        self._lock = threading.Lock()

    def export(self, request: Any) -> None:
        """Returns once every kept span is in Kafka; raises KafkaUnavailable/KafkaRejected."""
        routed = self.router.route(request)
        try:
            self.producer.publish(routed.records)
        except (KafkaUnavailable, KafkaRejected):
            with self._lock:
                self.counts.refused_requests += 1
            raise
        with self._lock:
            self.counts.requests += 1
            self.counts.kept_spans += routed.kept_spans
            self.counts.dropped_spans += routed.dropped_spans


def decode_http_body(body: bytes, content_type: str, content_encoding: str) -> Any:
    """OTLP/HTTP body → request; raises :class:`BadPayload` with the reason."""
    encoding = content_encoding.strip().lower()
    try:
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding not in ("", "identity"):
            raise BadPayload(f"unsupported Content-Encoding {content_encoding!r}")
    except (OSError, EOFError, zlib.error) as err:
        raise BadPayload(f"body is not valid {encoding}: {err}") from None
    media = content_type.split(";")[0].strip().lower()
    if media == PROTOBUF:
        try:
            return ExportTraceServiceRequest.FromString(body)
        except (DecodeError, ValueError, RuntimeError) as err:
            raise BadPayload(f"body is not an OTLP ExportTraceServiceRequest: {err}") from None
    if media == JSON:
        try:
            traces = traces_from_json_line(body)
        except MalformedInput as err:
            raise BadPayload(f"body is not OTLP JSON: {err.reason}") from None
        request = ExportTraceServiceRequest()
        request.resource_spans.extend(traces.resource_spans)
        return request
    raise BadPayload(f"unsupported Content-Type {content_type!r}; use {PROTOBUF} or {JSON}")


def _status_body(media: str, code: int, message: str) -> tuple[bytes, str]:
    status = status_pb2.Status(code=code, message=message)
    if media == JSON:
        from google.protobuf import json_format

        return json_format.MessageToJson(status, indent=None).encode(), JSON
    return status.SerializeToString(), PROTOBUF


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, intake: SpanIntake, retry_after_s: int) -> None:
        self.intake = intake
        self.retry_after_s = retry_after_s

    def Export(self, request: Any, context: Any) -> Any:
        try:
            self.intake.export(request)
        except KafkaUnavailable as err:
            retry = error_details_pb2.RetryInfo(
                retry_delay=duration_pb2.Duration(seconds=self.retry_after_s))
            status = status_pb2.Status(code=code_pb2.UNAVAILABLE, message=str(err))
            status.details.add().Pack(retry)
            context.set_trailing_metadata(
                (("grpc-status-details-bin", status.SerializeToString()),))
            context.abort(grpc.StatusCode.UNAVAILABLE, str(err))
        except KafkaRejected as err:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
        return ExportTraceServiceResponse()


class OtlpReceiver:
    """Runs the gRPC and HTTP servers until :meth:`stop`; ports ``0`` pick free ports.

    ``grpc_port`` and ``http_port`` are the bound ports once started.
    """

    def __init__(self, config: CollectorConfig, intake: SpanIntake) -> None:
        self.config = config
        self.intake = intake
        self.grpc_port: int | None = None
        self.http_port: int | None = None
        self._grpc: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._pool = futures.ThreadPoolExecutor(max_workers=config.grpc_workers,
                                                thread_name_prefix="swapwatch-http")

    # --- gRPC ---------------------------------------------------------------------------
    def _start_grpc(self, endpoint: str) -> None:
        limit = self.config.max_request_bytes
        self._grpc = grpc.server(
            futures.ThreadPoolExecutor(max_workers=self.config.grpc_workers,
                                       thread_name_prefix="swapwatch-grpc"),
            options=[("grpc.max_receive_message_length", limit)])
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(
            _TraceService(self.intake, self.config.retry_after_s), self._grpc)
        self.grpc_port = self._grpc.add_insecure_port(endpoint)
        self._grpc.start()

    # --- HTTP ---------------------------------------------------------------------------
    async def _handle_traces(self, request: web.Request) -> web.Response:
        media = request.content_type.lower()
        reply = JSON if media == JSON else PROTOBUF
        body = await request.read()
        try:
            export = decode_http_body(body, request.headers.get("Content-Type", ""),
                                      request.headers.get("Content-Encoding", ""))
        except BadPayload as err:
            self.intake.counts.bad_requests += 1
            payload, ctype = _status_body(reply, code_pb2.INVALID_ARGUMENT, str(err))
            return web.Response(status=400, body=payload, content_type=ctype)
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._pool, self.intake.export, export)
        except KafkaUnavailable as err:
            payload, ctype = _status_body(reply, code_pb2.UNAVAILABLE, str(err))
            return web.Response(status=503, body=payload, content_type=ctype,
                                headers={"Retry-After": str(self.config.retry_after_s)})
        except KafkaRejected as err:
            payload, ctype = _status_body(reply, code_pb2.INVALID_ARGUMENT, str(err))
            return web.Response(status=400, body=payload, content_type=ctype)
        if reply == JSON:
            return web.Response(status=200, body=b"{}", content_type=JSON)
        return web.Response(status=200, body=ExportTraceServiceResponse().SerializeToString(),
                            content_type=PROTOBUF)

    async def _handle_healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    def _start_http(self, endpoint: str) -> None:
        host, _, port = endpoint.rpartition(":")
        ready = threading.Event()
        failure: list[BaseException] = []

        async def serve() -> None:
            app = web.Application(client_max_size=self.config.max_request_bytes)
            app.router.add_post("/v1/traces", self._handle_traces)
            app.router.add_get("/healthz", self._handle_healthz)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, host, int(port))
            await site.start()
            server: Any = site._server
            self.http_port = server.sockets[0].getsockname()[1]

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(serve())
            except BaseException as err:  # reported to the starting thread
                failure.append(err)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="swapwatch-otlp-http", daemon=True)
        self._thread.start()
        if not ready.wait(timeout=30):
            raise RuntimeError("the OTLP/HTTP server did not start within 30 s")
        if failure:
            raise failure[0]

    # --- lifecycle ----------------------------------------------------------------------
    def start(self) -> OtlpReceiver:
        if self.config.grpc_endpoint:
            self._start_grpc(self.config.grpc_endpoint)
        if self.config.http_endpoint:
            self._start_http(self.config.http_endpoint)
        log.info("OTLP receiver: gRPC on %s, HTTP on %s", self.grpc_port, self.http_port)
        return self

    def stop(self, grace_s: float = 5.0) -> None:
        if self._grpc is not None:
            self._grpc.stop(grace_s).wait(grace_s + 1)
            self._grpc = None
        loop, runner = self._loop, self._runner
        if loop is not None and runner is not None:
            done = asyncio.run_coroutine_threadsafe(runner.cleanup(), loop)
            try:
                done.result(timeout=grace_s + 1)
            except (TimeoutError, futures.TimeoutError):
                log.warning("OTLP/HTTP server did not stop within %.0f s", grace_s)
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=grace_s + 1)
        self._pool.shutdown(wait=False, cancel_futures=True)
