"""A simulated service: real ``openai`` / ``anthropic`` SDK calls, instrumented by swapwatch.

Run as its own process (``python -m swapwatch.detector.demo.service PLAN.json``), because
OpenTelemetry's tracer provider, and with it ``service.name``, is one per process, exactly as
in a real deployment. It sets itself up the way the README tells a service to
(:func:`swapwatch.instrumentation.configure` plus a ``surface`` block around each call),
sends its planned calls to the simulated provider, and exports its spans over OTLP to the
demo's ``swapwatch collect``. It exits when its plan is done, or when its parent goes away
(standard input closes).

The plan file holds a :class:`~swapwatch.detector.demo.traffic.ServicePlan` with, in
``extra``: ``openai_url``, ``anthropic_url``, ``otlp_endpoint``. Once set up, the service
prints ``ready`` and waits for ``go <unix seconds>`` on standard input: the start its planned
offsets count from.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from typing import Any

from swapwatch.detector.demo.traffic import KeyPlan, PlannedCall, ServicePlan
from swapwatch.detector.simulator.content import filler_text

EXPORT_DELAY_MS = "250"  # OTEL_BSP_SCHEDULE_DELAY: spans reach the collector within ~1/4 s


class Caller:
    """Makes one planned call through the right async SDK inside the key's ``surface`` block.

    Async clients on one event loop: hundreds of calls in flight cost one thread, and no
    thread convoy on the GIL adds its own latency to the durations the spans measure.
    """

    def __init__(self, openai_url: str, anthropic_url: str) -> None:
        import anthropic
        import openai

        self.openai = openai.AsyncOpenAI(base_url=openai_url, api_key="sim", max_retries=0,
                                         timeout=120.0)
        self.anthropic = anthropic.AsyncAnthropic(base_url=anthropic_url, api_key="sim",
                                                  max_retries=0, timeout=120.0)
        self.ok = 0
        self.failed = 0

    async def call(self, key: KeyPlan, planned: PlannedCall) -> None:
        import swapwatch.instrumentation as swi

        prompt = filler_text(planned.prompt_words, planned.seed)
        try:
            async with swi.surface(key.surface, propagate=False):
                if key.api == "openai":
                    await self._openai(key, prompt, planned.stream)
                else:
                    await self._anthropic(key, prompt, planned.stream)
        except Exception:  # simulated 429/5xx: the span records the error, the caller moves on
            self.failed += 1
            return
        self.ok += 1

    async def _openai(self, key: KeyPlan, prompt: str, stream: bool) -> None:
        messages: Any = [{"role": "user", "content": prompt}]
        if stream:
            chunks = await self.openai.chat.completions.create(
                model=key.request_model, messages=messages, max_tokens=key.max_tokens,
                stream=True, stream_options={"include_usage": True})
            async for _ in chunks:
                pass
        else:
            await self.openai.chat.completions.create(model=key.request_model,
                                                      messages=messages,
                                                      max_tokens=key.max_tokens)

    async def _anthropic(self, key: KeyPlan, prompt: str, stream: bool) -> None:
        messages: Any = [{"role": "user", "content": prompt}]
        if stream:
            events = await self.anthropic.messages.create(model=key.request_model,
                                                          messages=messages,
                                                          max_tokens=key.max_tokens,
                                                          stream=True)
            async for _ in events:
                pass
        else:
            await self.anthropic.messages.create(model=key.request_model, messages=messages,
                                                 max_tokens=key.max_tokens)


def warm_up(plan: ServicePlan, calls_per_key: int = 3) -> None:
    """A few untraced calls before tracing starts: the SDKs build their models and the
    process its code paths on first use, which would otherwise slow the first traced calls
    and teach the baselines a start-up that never comes back."""
    import anthropic
    import openai

    extra = plan.extra
    client_openai = openai.OpenAI(base_url=extra["openai_url"], api_key="sim", max_retries=0)
    client_anthropic = anthropic.Anthropic(base_url=extra["anthropic_url"], api_key="sim",
                                           max_retries=0)
    for key in plan.keys:
        for i in range(calls_per_key):
            messages: Any = [{"role": "user", "content": filler_text(50, i)}]
            try:
                if key.api == "openai" and i == 0:
                    for _ in client_openai.chat.completions.create(
                            model=key.request_model, messages=messages, max_tokens=16,
                            stream=True, stream_options={"include_usage": True}):
                        pass
                elif key.api == "openai":
                    client_openai.chat.completions.create(
                        model=key.request_model, messages=messages, max_tokens=16)
                else:
                    client_anthropic.messages.create(model=key.request_model,
                                                     messages=messages, max_tokens=16,
                                                     stream=i == 0)
            except Exception:  # a simulated error is as good a warm-up
                pass


def set_up(plan: ServicePlan) -> Any:
    """Tracing as the README tells a service to set it up; returns the tracer provider."""
    import swapwatch.instrumentation as swi

    warm_up(plan)
    extra = plan.extra
    os.environ.setdefault("OTEL_BSP_SCHEDULE_DELAY", EXPORT_DELAY_MS)
    return swi.configure(service_name=plan.service, endpoint=extra["otlp_endpoint"],
                         protocol="http/protobuf",
                         resource_attributes={"deployment.environment.name": "prod"})


async def run_plan(plan: ServicePlan, caller: Caller, start_wall: float) -> dict[str, int]:
    """Send every planned call at (or, when behind, as soon as possible after) its time;
    at most ``plan.workers`` in flight."""
    schedule = sorted(((c.offset_s, k, c) for k in plan.keys for c in k.calls),
                      key=lambda item: item[0])
    slots = asyncio.Semaphore(plan.workers)
    tasks = set()

    async def one(key: KeyPlan, planned: PlannedCall) -> None:
        try:
            await caller.call(key, planned)
        finally:
            slots.release()

    for offset, key, planned in schedule:
        delay = start_wall + offset - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await slots.acquire()
        task = asyncio.create_task(one(key, planned))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    while tasks:
        await asyncio.gather(*list(tasks))
    return {"ok": caller.ok, "failed": caller.failed}


def _exit_with_parent() -> None:
    """The parent holds our standard input open: EOF means it is gone, so are we."""
    sys.stdin.read()
    os._exit(3)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m swapwatch.detector.demo.service PLAN.json", file=sys.stderr)
        return 2
    with open(args[0], encoding="utf-8") as f:
        plan = ServicePlan.from_json(json.load(f))
    tracing = set_up(plan)
    print("ready", flush=True)
    go = sys.stdin.readline().split()  # "go <start_wall>", once every service is ready
    if len(go) != 2 or go[0] != "go":
        return 3
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    extra = plan.extra

    async def main_async() -> dict[str, int]:
        caller = Caller(extra["openai_url"], extra["anthropic_url"])
        return await run_plan(plan, caller, float(go[1]))

    counts = asyncio.run(main_async())
    tracing.force_flush(30_000)  # every span at the collector before we say we are done
    tracing.shutdown()
    print(json.dumps(counts), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
