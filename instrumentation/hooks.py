"""Request-time hooks on the ``openai`` and ``anthropic`` SDK methods: what a span processor
cannot see.

A span processor sees spans, not requests, so the prompt's size is counted here, in a thin
wrapper around each SDK method (``chat.completions.create``, ``responses.create``,
``completions.create``, ``messages.create``, sync and async). The wrapper opens a
:class:`CallSlot` for the duration of the call; the LLM span of that call (whoever's
instrumentor made it) claims the slot and gets ``swapwatch.prompt.chars``:

* instrumentor outside the hook (its span is current when the hook runs): claimed here;
* instrumentor inside the hook (the span starts during the call, like the Anthropic SDK's
  own spans): claimed by :class:`~swapwatch.instrumentation.processor.SwapwatchSpanProcessor`
  in ``on_start``.

For streamed calls the hook also watches the SDK stream's chunks, in place (the object the
application gets is unchanged), to add what the instrumentor did not record: the time to
first chunk and the OpenAI system fingerprint (streamed chunks carry it; instrumentors record
it only for non-streamed calls). Nothing here reads content beyond ``len()``; nothing raises
into the application (failures are counted in :func:`hook_failures`).

>>> slot = CallSlot("openai.chat", prompt_chars=12)
>>> with active_call(slot):
...     current_call() is slot
True
>>> current_call() is None
True
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from swapwatch.detector.ingest.attributes import PROMPT_CHARS
from swapwatch.instrumentation.enrich import is_llm_span
from swapwatch.instrumentation.prompt import prompt_chars

TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
SYSTEM_FINGERPRINT = "openai.response.system_fingerprint"

#: (module, ``Class.method``, family, vendor) of every hooked SDK method.
TARGETS: tuple[tuple[str, str, str, str], ...] = (
    ("openai.resources.chat.completions", "Completions.create", "openai.chat", "openai"),
    ("openai.resources.chat.completions", "AsyncCompletions.create", "openai.chat", "openai"),
    ("openai.resources.responses", "Responses.create", "openai.responses", "openai"),
    ("openai.resources.responses", "AsyncResponses.create", "openai.responses", "openai"),
    ("openai.resources.completions", "Completions.create", "openai.completions", "openai"),
    ("openai.resources.completions", "AsyncCompletions.create", "openai.completions", "openai"),
    ("anthropic.resources.messages", "Messages.create", "anthropic.messages", "anthropic"),
    ("anthropic.resources.messages", "AsyncMessages.create", "anthropic.messages", "anthropic"),
)


@dataclass(slots=True)
class CallSlot:
    """One SDK call in flight: its prompt size, and the LLM span once one claims it."""

    family: str
    prompt_chars: int | None = None
    vendor: str = field(default="")
    span: Any = None

    def claim(self, span: Any) -> None:
        """Make ``span`` this call's LLM span and record the prompt size on it."""
        self.span = span
        if self.prompt_chars is not None:
            span.set_attribute(PROMPT_CHARS, self.prompt_chars)


_CURRENT_CALL: ContextVar[CallSlot | None] = ContextVar("swapwatch_current_call", default=None)
_failures = 0
_lock = threading.Lock()
_installed: dict[tuple[str, str], Any] = {}  # (module, Class.method) -> original function
_count_prompt_chars = True


def current_call() -> CallSlot | None:
    """The SDK call in flight in this context, if any."""
    return _CURRENT_CALL.get()


@contextlib.contextmanager
def active_call(slot: CallSlot) -> Iterator[CallSlot]:
    token = _CURRENT_CALL.set(slot)
    try:
        yield slot
    finally:
        _CURRENT_CALL.reset(token)


def hook_failures() -> int:
    """How many times a hook swallowed an error (the call itself always went on)."""
    return _failures


def _failed() -> None:
    global _failures
    _failures += 1


def belongs_to(span: Any, vendor: str) -> bool:
    """Whether ``span`` is a recording LLM span made by an instrumentation of ``vendor``'s SDK."""
    if not span.is_recording():
        return False
    scope = getattr(span, "instrumentation_scope", None)
    scope_name = getattr(scope, "name", "") or ""
    return vendor in scope_name and is_llm_span(getattr(span, "attributes", None))


def _open_slot(family: str, vendor: str, kwargs: dict[str, Any]) -> CallSlot | None:
    try:
        chars = prompt_chars(family, kwargs) if _count_prompt_chars else None
        slot = CallSlot(family, chars, vendor)
        current = trace.get_current_span()
        if belongs_to(current, vendor):  # the instrumentor wraps us: its span is current
            slot.claim(current)
        return slot
    except Exception:
        _failed()
        return None


def _watch_stream(slot: CallSlot | None, kwargs: dict[str, Any], result: Any) -> None:
    """Observe the chunks of a streamed result in place (``Stream._iterator``)."""
    if slot is None or slot.span is None or not kwargs.get("stream"):
        return
    try:
        iterator = getattr(result, "_iterator", None)
        if iterator is None:
            return
        if hasattr(iterator, "__anext__"):
            result._iterator = _observe_async(iterator, slot.span)
        else:
            result._iterator = _observe_sync(iterator, slot.span)
    except Exception:
        _failed()


def _note_chunk(span: Any, chunk: Any, first: bool) -> bool:
    """Record what the first chunks tell; returns whether a fingerprint is still wanted."""
    try:
        if not span.is_recording():
            return False
        attributes = span.attributes or {}
        if first and TIME_TO_FIRST_CHUNK not in attributes and span.start_time:
            span.set_attribute(TIME_TO_FIRST_CHUNK, (time.time_ns() - span.start_time) / 1e9)
        if SYSTEM_FINGERPRINT in attributes:
            return False
        fingerprint = getattr(chunk, "system_fingerprint", None)
        if isinstance(fingerprint, str) and fingerprint:
            span.set_attribute(SYSTEM_FINGERPRINT, fingerprint)
            return False
        return hasattr(chunk, "choices")  # OpenAI chunks may carry one later; others never
    except Exception:
        _failed()
        return False


def _observe_sync(iterator: Iterator[Any], span: Any) -> Iterator[Any]:
    first, want = True, True
    for chunk in iterator:
        if want:
            want = _note_chunk(span, chunk, first)
            first = False
        yield chunk


async def _observe_async(iterator: AsyncIterator[Any], span: Any) -> AsyncIterator[Any]:
    first, want = True, True
    async for chunk in iterator:
        if want:
            want = _note_chunk(span, chunk, first)
            first = False
        yield chunk


def _sync_wrapper(family: str, vendor: str) -> Any:
    def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: dict[str, Any]) -> Any:
        slot = _open_slot(family, vendor, kwargs)
        if slot is None:
            return wrapped(*args, **kwargs)
        token = _CURRENT_CALL.set(slot)
        try:
            result = wrapped(*args, **kwargs)
        finally:
            _CURRENT_CALL.reset(token)
        _watch_stream(slot, kwargs, result)
        return result
    return wrapper


def _async_wrapper(family: str, vendor: str) -> Any:
    async def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: dict[str, Any]) -> Any:
        slot = _open_slot(family, vendor, kwargs)
        if slot is None:
            return await wrapped(*args, **kwargs)
        token = _CURRENT_CALL.set(slot)
        try:
            result = await wrapped(*args, **kwargs)
        finally:
            _CURRENT_CALL.reset(token)
        _watch_stream(slot, kwargs, result)
        return result
    return wrapper


def install_request_hooks(*, count_prompt_chars: bool = True) -> list[str]:
    """Hook every SDK method in :data:`TARGETS` whose SDK is installed; idempotent.

    Returns the hooked ``module:Class.method`` names. Works before or after an instrumentor
    wrapped the same methods.
    """
    import wrapt  # part of the instrumentation extra, so only needed here

    global _count_prompt_chars
    _count_prompt_chars = count_prompt_chars
    hooked: list[str] = []
    with _lock:
        for module_name, attribute, family, vendor in TARGETS:
            key = (module_name, attribute)
            if key not in _installed:
                try:
                    module = importlib.import_module(module_name)
                    owner_name, method = attribute.split(".")
                    owner = getattr(module, owner_name)
                    original = owner.__dict__[method]
                except (ImportError, AttributeError, KeyError):
                    continue  # SDK (or this API) not installed
                is_async = owner_name.startswith("Async")
                make = _async_wrapper if is_async else _sync_wrapper
                wrapt.wrap_function_wrapper(owner, method, make(family, vendor))
                _installed[key] = (owner, method, original)
            hooked.append(f"{module_name}:{attribute}")
    return hooked


def uninstall_request_hooks() -> None:
    """Restore the SDK methods as they were before :func:`install_request_hooks`.

    Only safe when nothing wrapped them after the hooks did (tests use it).
    """
    with _lock:
        for owner, method, original in _installed.values():
            setattr(owner, method, original)
        _installed.clear()
