"""``surface(...)``: name the product surface and tenant of every LLM call made inside it.

The names live in the OpenTelemetry context, so they follow the code wherever the context
goes: into nested calls, async tasks (which copy the context when created) and threads that
run with a copied context (``contextvars.copy_context().run``, OTel's threading
instrumentation). With ``propagate=True`` (the default) they are also W3C baggage, so a
downstream service instrumented with swapwatch tags its calls with the same surface and tenant.
Baggage is sent with *every* outgoing request that carries trace context, including those to
the LLM provider: pass ``propagate=False`` for a tenant name that must not leave the process.

>>> with surface("autocomplete", tenant="acme"):
...     current_tags()
('autocomplete', 'acme')
>>> with surface("search", tenant="acme"), surface("rerank"):  # tenant is inherited
...     current_tags()
('rerank', 'acme')
>>> current_tags()
(None, None)
>>> @surface("summaries")
... def summarise() -> tuple[str | None, str | None]:
...     return current_tags()
>>> summarise()
('summaries', None)
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from opentelemetry import baggage
from opentelemetry import context as otel_context
from opentelemetry.context import Context
from swapwatch.detector.ingest.attributes import SURFACE, TENANT

#: Baggage keys (the same names as the span attributes).
BAGGAGE_SURFACE = SURFACE
BAGGAGE_TENANT = TENANT

_LOCAL_KEY = otel_context.create_key("swapwatch.surface-scope")

F = TypeVar("F", bound=Callable[..., Any])


def current_tags(ctx: Context | None = None) -> tuple[str | None, str | None]:
    """``(surface, tenant)`` in ``ctx`` (default: the current context): a local scope first,
    then baggage from an upstream service; ``None`` where neither names one."""
    local = otel_context.get_value(_LOCAL_KEY, ctx)
    if isinstance(local, tuple):
        return local  # type: ignore[return-value]
    entries = baggage.get_all(ctx)
    if not entries:
        return None, None
    name = entries.get(BAGGAGE_SURFACE)
    tenant = entries.get(BAGGAGE_TENANT)
    return (name if isinstance(name, str) else None, tenant if isinstance(tenant, str) else None)


class SurfaceScope:
    """A context manager (sync or async) and decorator made by :func:`surface`.

    >>> scope = surface("chat", tenant="globex", propagate=False)
    >>> with scope:
    ...     current_tags(), dict(baggage.get_all())
    (('chat', 'globex'), {})
    """

    def __init__(self, name: str, tenant: str | None, propagate: bool) -> None:
        if not name or not name.strip():
            raise ValueError("surface name must be non-empty")
        self.name = name
        self.tenant = tenant
        self.propagate = propagate
        self._tokens: list[object] = []

    def _enter(self) -> None:
        ctx = otel_context.get_current()
        tenant = self.tenant if self.tenant is not None else current_tags(ctx)[1]
        ctx = otel_context.set_value(_LOCAL_KEY, (self.name, tenant), ctx)
        if self.propagate:
            ctx = baggage.set_baggage(BAGGAGE_SURFACE, self.name, ctx)
            if tenant is not None:
                ctx = baggage.set_baggage(BAGGAGE_TENANT, tenant, ctx)
        self._tokens.append(otel_context.attach(ctx))

    def _exit(self) -> None:
        otel_context.detach(self._tokens.pop())  # type: ignore[arg-type]

    def __enter__(self) -> SurfaceScope:
        self._enter()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._exit()

    async def __aenter__(self) -> SurfaceScope:
        self._enter()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._exit()

    def __call__(self, func: F) -> F:
        """Decorate a function or coroutine function: each call runs inside a fresh scope."""
        name, tenant, propagate = self.name, self.tenant, self.propagate

        if inspect.iscoroutinefunction(func):
            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with SurfaceScope(name, tenant, propagate):
                    return await func(*args, **kwargs)
            return run_async  # type: ignore[return-value]

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with SurfaceScope(name, tenant, propagate):
                return func(*args, **kwargs)
        return run  # type: ignore[return-value]


def surface(name: str, *, tenant: str | None = None, propagate: bool = True) -> SurfaceScope:
    """Tag every LLM span started inside with ``swapwatch.surface`` (and ``swapwatch.tenant``).

    A tenant left out is inherited from the enclosing scope or baggage.
    """
    return SurfaceScope(name, tenant, propagate)
