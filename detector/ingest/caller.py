"""Who made a call: service, environment, surface and tenant, from span, resource, root span.

Surface and tenant follow the precedence lists of
:class:`~swapwatch.detector.ingest.config.IngestConfig`: per entry, the span's attribute,
then the resource's; ``root_span.*`` entries read the trace's root span in the same message.
The resource part is the same for every span of a resource, so it is compiled once per
resource (:class:`Caller`) into steps that stop at the first entry the resource answers, then
narrowed per span shape to the entries the span can have; a span only checks those.

>>> from swapwatch.detector.ingest.config import IngestConfig
>>> surface = Precedence(IngestConfig().surface_attributes)
>>> steps = surface.steps({"service.name": "shop"})
>>> [key for _, key, _ in steps]
['swapwatch.surface', 'gen_ai.agent.name', 'traceloop.workflow.name', 'http.route', 'name', \
'service.name']
>>> resolve(steps, {"gen_ai.agent.name": "triage"}, None, b"", b"")
'triage'
>>> resolve(steps, {}, None, b"", b"")  # the resource answers (no root span: no roots read)
'shop'
"""

from __future__ import annotations

from typing import Any

from swapwatch.detector.ingest import dialects as d
from swapwatch.detector.ingest.config import ROOT_SPAN_PREFIX
from swapwatch.detector.ingest.errors import IngestStats
from swapwatch.detector.ingest.values import MAX_TEXT, as_text, unwrap
from swapwatch.detector.ingest.walk import MapInexact

__all__ = ["Caller", "Precedence", "RootSpans", "environment", "read_resource", "resolve"]

# (from the root span?, key, the resource's value of key or None)
Steps = tuple[tuple[bool, str, str | None], ...]


class RootSpans:
    """Root spans of one message by trace id, indexed on first use (surface fallbacks)."""

    __slots__ = ("_by_trace", "_keys", "_map", "_read", "_traces")

    def __init__(self, traces: Any, keys: frozenset[str], map_attributes: bool = False) -> None:
        self._traces = traces
        self._keys = keys
        self._map = map_attributes  # spans of a MapTracesData
        self._by_trace: dict[bytes, Any] | None = None
        self._read: dict[bytes, tuple[str, dict[str, str]]] = {}

    def get(self, trace_id: bytes, span_id: bytes) -> tuple[str, dict[str, str]] | None:
        """(name, wanted attributes) of the trace's root span, unless it is ``span_id``."""
        if self._by_trace is None:
            self._by_trace = {
                span.trace_id: span
                for rs in self._traces.resource_spans
                for ss in rs.scope_spans
                for span in ss.spans
                if not span.parent_span_id
            }
        root = self._by_trace.get(trace_id)
        if root is None or root.span_id == span_id:
            return None
        found = self._read.get(trace_id)
        if found is None:
            attrs = self._map_attributes(root) if self._map else {}
            if not self._map:
                for kv in root.attributes:
                    if kv.key in self._keys:
                        text = as_text(unwrap(kv.value), "root_span", None)
                        if text:
                            attrs[kv.key] = text
            found = self._read[trace_id] = (root.name[:256], attrs)
        return found

    def _map_attributes(self, root: Any) -> dict[str, str]:
        """The list loop's result from map attributes, when sure: the list keeps the last
        occurrence with text, the map only the last occurrence."""
        attrs: dict[str, str] = {}
        found = root.attributes
        for key in self._keys:
            if key in found:
                text = as_text(unwrap(found[key]), "root_span", None)
                if not text:
                    raise MapInexact(key)
                attrs[key] = text
        return attrs


class Precedence:
    """One compiled surface/tenant precedence list."""

    __slots__ = ("entries",)

    def __init__(self, names: list[str]) -> None:
        self.entries: tuple[tuple[bool, str], ...] = tuple(
            (True, n[len(ROOT_SPAN_PREFIX):]) if n.startswith(ROOT_SPAN_PREFIX) else (False, n)
            for n in names
        )

    def span_keys(self) -> set[str]:
        return {key for is_root, key in self.entries if not is_root}

    def root_keys(self) -> set[str]:
        return {key for is_root, key in self.entries if is_root}

    def steps(self, resource: dict[str, str]) -> Steps:
        """The entries for spans of one resource, up to the first one the resource answers."""
        out: list[tuple[bool, str, str | None]] = []
        for is_root, key in self.entries:
            fallback = None if is_root else resource.get(key)
            out.append((is_root, key, fallback))
            if fallback is not None:
                break
        return tuple(out)


def resolve(
    steps: Steps, got: dict[str, Any], roots: RootSpans | None, trace_id: bytes, span_id: bytes
) -> str | None:
    """The first value the steps find for one span (``None``: no entry is present)."""
    for is_root, key, fallback in steps:
        if is_root:
            found = None if roots is None else roots.get(trace_id, span_id)
            if found is not None:
                name, attrs = found
                value = name if key == "name" else attrs.get(key)
                if value:
                    return value[:256]
            continue
        raw = got.get(key)
        if raw is not None:
            if raw.__class__ is str and 0 < len(raw) <= MAX_TEXT:
                return raw  # what as_text returns for it, without the call
            text = as_text(raw, "", None)
            if text:
                return text
        if fallback is not None:
            return fallback
    return None


class Caller:
    """What one resource says about its spans' caller, compiled once per resource.

    ``steps_for(keys)`` narrows the surface and tenant steps to a span shape's keys (a span
    entry the shape lacks can only fall through to the resource): cached per shape, so a
    span whose shape decides everything pays one dict lookup.
    """

    __slots__ = ("_narrowed", "environment", "resource", "service", "surface", "tenant")

    def __init__(
        self, resource: dict[str, str], surface: Precedence, tenant: Precedence
    ) -> None:
        self.resource = resource
        self.service = resource.get(d.RESOURCE_SERVICE)
        # Set when the resource alone decides (its first environment key is present).
        self.environment = resource.get(d.RESOURCE_ENVIRONMENT[0])
        self.surface = surface.steps(resource)
        self.tenant = tenant.steps(resource)
        self._narrowed: dict[frozenset[str], tuple[Steps, Steps]] = {}

    def steps_for(self, keys: frozenset[str]) -> tuple[Steps, Steps]:
        """(surface steps, tenant steps) for spans that carry exactly ``keys``."""
        found = self._narrowed.get(keys)
        if found is None:
            if len(self._narrowed) >= _MAX_NARROWED:
                self._narrowed.clear()
            found = self._narrowed[keys] = (
                _narrow(self.surface, keys), _narrow(self.tenant, keys)
            )
        return found


_MAX_NARROWED = 256


def _narrow(steps: Steps, keys: frozenset[str]) -> Steps:
    """The steps that can still answer for a span with these keys (same first answer)."""
    return tuple(
        step for step in steps if step[0] or step[1] in keys or step[2] is not None
    )


def environment(
    got: dict[str, Any], resource: dict[str, str], stats: IngestStats | None
) -> str | None:
    for key in d.RESOURCE_ENVIRONMENT:
        if key in resource:
            return resource[key]
        if key in got:
            return as_text(got[key], "environment", stats)
    return None


def read_resource(resource: Any, wanted: frozenset[str]) -> dict[str, str]:
    """The wanted attributes of a ``Resource`` that are non-empty text."""
    found: dict[str, str] = {}
    for kv in resource.attributes:
        if kv.key in wanted:
            text = as_text(unwrap(kv.value), "resource", None)
            if text:
                found[kv.key] = text
    return found
