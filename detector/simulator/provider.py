"""The simulated LLM provider: an HTTP server the real ``openai`` and ``anthropic`` SDKs call.

Point an SDK's ``base_url`` at it and nothing else changes: the same request and response
shapes, server-sent event streams, error objects and ``Retry-After`` headers as the real APIs.
What each call is answered with (served model, fingerprint, token counts, timing, errors) is
decided by an injected :class:`~swapwatch.detector.simulator.behaviour.Behaviour`.

Timing convention: a reply's simulated seconds are slept as ``seconds / speed`` of real time
(``speed=1`` real time, ``speed=1000`` a thousand times faster, ``speed=math.inf`` no sleeping).
The injected ``clock`` gives the simulated event time a behaviour sees (``Request.now``) and
the ``created`` field of responses; it defaults to wall time.

>>> import openai
>>> with ProviderServer(speed=math.inf) as server:
...     client = openai.OpenAI(base_url=server.openai_base_url, api_key="sim", max_retries=0)
...     completion = client.chat.completions.create(
...         model="gpt-4o", messages=[{"role": "user", "content": "Say hi"}], max_tokens=3)
>>> completion.model, completion.choices[0].finish_reason, completion.usage.completion_tokens
('gpt-4o-2024-08-06', 'length', 3)
>>> completion.system_fingerprint.startswith("fp_sim_")
True
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import threading
import time
from collections.abc import Callable
from types import TracebackType

from aiohttp import web
from swapwatch.detector.simulator.anthropic_api import ANTHROPIC
from swapwatch.detector.simulator.behaviour import (
    DEFAULT_SNAPSHOTS,
    Behaviour,
    FixedBehaviour,
    Reply,
)
from swapwatch.detector.simulator.openai_api import OPENAI
from swapwatch.detector.simulator.wire import Call, InvalidRequest, WireApi, decode_body, sim_id

log = logging.getLogger(__name__)

# Sleeps shorter than this are skipped: the event loop's own overhead is about this size.
_MIN_SLEEP_S = 0.0005
_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 10.0
# On stop, requests still being answered get this long before they are cut.
_SHUTDOWN_GRACE_S = 0.25


def real_seconds(simulated_s: float, speed: float) -> float:
    """Real seconds to sleep for ``simulated_s`` at ``speed`` (``inf`` means never sleep).

    >>> real_seconds(2.0, 1.0), real_seconds(2.0, 1000.0), real_seconds(2.0, math.inf)
    (2.0, 0.002, 0.0)
    """
    if simulated_s <= 0 or math.isinf(speed):
        return 0.0
    return simulated_s / speed


def token_time_s(reply: Reply, tokens_done: int) -> float:
    """Simulated seconds after the request when ``tokens_done`` output tokens exist.

    Stream frames without tokens (role chunk, ``message_start``) go out at the time to first
    token; then one token every ``1 / decode_tokens_per_s``, so that a span's
    ``output_tokens / (duration - ttft)`` measures exactly the decode rate.

    >>> r = Reply("m", None, 10, 100, ttft_s=0.5, decode_tokens_per_s=50.0, finish_reason="stop")
    >>> token_time_s(r, 0), token_time_s(r, 100)
    (0.5, 2.5)
    """
    rate = reply.decode_tokens_per_s
    decode = tokens_done / rate if rate > 0 and math.isfinite(rate) else 0.0
    return max(reply.ttft_s, 0.0) + decode


class ProviderServer:
    """Serves OpenAI ``/v1/chat/completions`` and Anthropic ``/v1/messages`` on a local port.

    Runs an aiohttp application on its own event loop in a background thread; use it as a
    context manager or call :meth:`start` / :meth:`stop`. See the module docstring for an
    example with the ``openai`` SDK. ``behaviour`` and ``speed`` are plain attributes: assigning
    a new behaviour while serving takes effect from the next request.
    """

    def __init__(
        self,
        behaviour: Behaviour | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 1.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if not speed > 0:  # also refuses NaN
            raise ValueError(f"speed must be > 0 (math.inf for no sleeping), got {speed!r}")
        self.behaviour: Behaviour = behaviour if behaviour is not None else FixedBehaviour()
        self.host = host
        self.port = port
        self.speed = speed
        self.clock: Callable[[], float] = clock if clock is not None else time.time
        self._seq = itertools.count(1)
        self._requests = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._bound_port: int | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> ProviderServer:
        """Bind the port and serve in a background thread; returns ``self``."""
        if self._thread is not None:
            raise RuntimeError("ProviderServer already started")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=self._run_loop, args=(loop,),
                                  name="swapwatch-provider-sim", daemon=True)
        self._loop, self._thread = loop, thread
        thread.start()
        try:
            future = asyncio.run_coroutine_threadsafe(self._serve(), loop)
            self._bound_port = future.result(timeout=_START_TIMEOUT_S)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop serving (open streams are cut after a short grace) and join the thread."""
        loop, thread, runner = self._loop, self._thread, self._runner
        if loop is None or thread is None:
            return
        try:
            if runner is not None and loop.is_running():
                asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(_STOP_TIMEOUT_S)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(_STOP_TIMEOUT_S)
            self._loop = self._thread = self._runner = None
            self._bound_port = None

    def __enter__(self) -> ProviderServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @staticmethod
    def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _serve(self) -> int:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._openai_chat)
        app.router.add_post("/v1/messages", self._anthropic_messages)
        app.router.add_get("/v1/models", self._models)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_GRACE_S)
        await runner.setup()
        self._runner = runner
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        return int(runner.addresses[0][1])

    # -- addresses -------------------------------------------------------------------------

    @property
    def bound_port(self) -> int:
        """The port actually listened on (``port=0`` picks a free one)."""
        if self._bound_port is None:
            raise RuntimeError("ProviderServer is not running")
        return self._bound_port

    @property
    def anthropic_base_url(self) -> str:
        """``base_url`` for ``anthropic.Anthropic`` (the SDK adds ``/v1/messages``)."""
        return f"http://{self.host}:{self.bound_port}"

    @property
    def openai_base_url(self) -> str:
        """``base_url`` for ``openai.OpenAI`` (the SDK adds ``/chat/completions``)."""
        return f"{self.anthropic_base_url}/v1"

    @property
    def requests_received(self) -> int:
        """How many API calls arrived (errors and retries included)."""
        return self._requests

    # -- handlers --------------------------------------------------------------------------

    async def _openai_chat(self, request: web.Request) -> web.StreamResponse:
        return await self._answer(request, OPENAI)

    async def _anthropic_messages(self, request: web.Request) -> web.StreamResponse:
        return await self._answer(request, ANTHROPIC)

    async def _models(self, request: web.Request) -> web.StreamResponse:
        models = sorted({*DEFAULT_SNAPSHOTS, *DEFAULT_SNAPSHOTS.values()})
        api = ANTHROPIC if "anthropic-version" in request.headers else OPENAI
        return web.json_response(api.render_models(models, self.clock()))

    async def _answer(self, request: web.Request, api: WireApi) -> web.StreamResponse:
        arrived = asyncio.get_running_loop().time()
        self._requests += 1
        seq = next(self._seq)
        now = self.clock()
        request_id = sim_id("req_", seq, now, 24)
        try:
            call = api.parse_request(decode_body(await request.read()), request.headers, now)
        except InvalidRequest as err:
            return self._error(api, 400, None, request_id, message=err.message, param=err.param)
        try:
            reply = self.behaviour.reply(call.request)
        except Exception:  # a behaviour bug is the simulator's 500, not a dead server
            log.exception("behaviour failed on %s", call.request)
            return self._error(api, 500, call, request_id)
        if reply.error_status is not None:
            return self._error(api, reply.error_status, call, request_id,
                               message=reply.error_message, retry_after_s=reply.retry_after_s)
        headers = api.response_headers(request_id)
        if call.request.stream:
            return await self._stream(request, api, call, reply, seq, headers, arrived)
        await self._sleep_until(arrived, token_time_s(reply, reply.output_tokens))
        return web.json_response(api.render_body(call, reply, seq), headers=headers)

    async def _stream(self, request: web.Request, api: WireApi, call: Call, reply: Reply,
                      seq: int, headers: dict[str, str], arrived: float) -> web.StreamResponse:
        response = web.StreamResponse(headers={
            **headers, "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache"})
        await response.prepare(request)
        pending: list[bytes] = []  # frames already due go out in one write
        try:
            for frame in api.render_stream(call, reply, seq):
                simulated = token_time_s(reply, frame.tokens_done)
                if self._real_delay(arrived, simulated) > _MIN_SLEEP_S:
                    if pending:
                        await response.write(b"".join(pending))
                        pending.clear()
                    await self._sleep_until(arrived, simulated)
                pending.append(frame.data)
            await response.write(b"".join(pending))
            await response.write_eof()
        except ConnectionResetError:
            log.debug("caller closed stream %d early", seq)
        return response

    def _real_delay(self, arrived: float, simulated_s: float) -> float:
        """Real seconds from now until ``simulated_s`` after the request arrived."""
        due = arrived + real_seconds(simulated_s, self.speed)
        return due - asyncio.get_running_loop().time()

    async def _sleep_until(self, arrived: float, simulated_s: float) -> None:
        delay = self._real_delay(arrived, simulated_s)
        if delay > _MIN_SLEEP_S:
            await asyncio.sleep(delay)

    def _error(self, api: WireApi, status: int, call: Call | None, request_id: str, *,
               message: str | None = None, param: str | None = None,
               retry_after_s: float | None = None) -> web.StreamResponse:
        if retry_after_s is None and status in (429, 503, 529):
            retry_after_s = 1.0
        real_retry = None if retry_after_s is None else real_seconds(retry_after_s, self.speed)
        status, body, headers = api.render_error(status, call, request_id, message, param,
                                                 real_retry)
        return web.json_response(body, status=status, headers=headers)


__all__ = ["ProviderServer", "real_seconds", "token_time_s"]
