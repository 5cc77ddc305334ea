"""The ingest API: OTLP bytes or JSON lines → :class:`~swapwatch.detector.calls.LlmCall` lists.

- :func:`calls_from_protobuf`: one Kafka message (``ExportTraceServiceRequest`` / ``TracesData``
  bytes, what the Collector's ``kafka`` exporter writes with ``otlp_proto``).
- :func:`calls_from_json_line`: one OTLP JSON document (file exporter, ``otlp_json``).
- :func:`iter_calls_from_file`: a JSON-lines file or stream; bad lines go to ``on_error``.

Undecodable input raises :class:`MalformedInput` (a ``ValueError``) with a reason, so the
caller can count and dead-letter it; problems inside a decodable message are counted in an
optional :class:`IngestStats` and never raise.

Protobuf messages are first read with span attributes as maps (the fast pass, see
:mod:`~swapwatch.detector.ingest.lite`); a message for which that could make any difference
is read again the standard way, so results, counts and errors are those of the standard path.

>>> from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
>>> calls_from_protobuf(TracesData().SerializeToString())
[]
>>> calls_from_protobuf(b"\\x0a\\xff\\xff")
Traceback (most recent call last):
...
swapwatch.detector.ingest.errors.MalformedInput: not OTLP protobuf: ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
from swapwatch.detector.calls import LlmCall
from swapwatch.detector.ingest.config import IngestConfig
from swapwatch.detector.ingest.errors import IngestStats, MalformedInput
from swapwatch.detector.ingest.extract import CallExtractor, is_llm_span
from swapwatch.detector.ingest.lite import MapTracesData
from swapwatch.detector.ingest.otlp_json import MAX_LINE_BYTES, traces_from_json_line
from swapwatch.detector.ingest.walk import MapInexact

__all__ = [
    "IngestStats",
    "MalformedInput",
    "calls_from_json_line",
    "calls_from_protobuf",
    "extractor_for",
    "is_llm_span",
    "iter_calls_from_file",
    "traces_from_json_line",
    "traces_from_protobuf",
]

_DEFAULT = IngestConfig()
_EXTRACTORS: dict[int, CallExtractor] = {}
_MAX_EXTRACTORS = 16


def extractor_for(config: IngestConfig | None) -> CallExtractor:
    """The compiled extractor of a configuration (cached per config object)."""
    config = config or _DEFAULT
    found = _EXTRACTORS.get(id(config))
    if found is None or found.config is not config:
        if len(_EXTRACTORS) >= _MAX_EXTRACTORS:
            _EXTRACTORS.clear()
        found = _EXTRACTORS[id(config)] = CallExtractor(config)
    return found


def traces_from_protobuf(data: bytes) -> TracesData:
    """Decode one message; ``ExportTraceServiceRequest`` and ``TracesData`` share the layout."""
    try:
        return TracesData.FromString(data)
    except (DecodeError, ValueError, TypeError, RuntimeError) as err:
        raise MalformedInput(f"not OTLP protobuf: {str(err)[:160]}") from None


def _extract(traces: Any, config: IngestConfig | None, stats: IngestStats | None) -> list[LlmCall]:
    try:
        return extractor_for(config).calls(traces, stats)
    except (ValueError, TypeError, AttributeError, OverflowError, RecursionError) as err:
        # A bug or a value no converter anticipated: the message becomes data, not a crash.
        raise MalformedInput(f"unreadable span data: {type(err).__name__}: {err}"[:200]) from None


class _Clean(IngestStats):
    """Stats of a map-attributes pass: any span to reject or value to sanitise ends it."""

    def reject(self, reason: str) -> None:
        raise MapInexact(reason)

    def sanitise(self, reason: str) -> None:
        raise MapInexact(reason)


def _calls_if_clean(
    data: bytes, config: IngestConfig | None
) -> tuple[list[LlmCall], IngestStats] | None:
    """The fast pass: attributes parsed as maps (:mod:`~swapwatch.detector.ingest.lite`).

    A map loses the attributes' order and all but the last of a duplicated key; results can
    only differ through those where a value is unset or needs sanitising (the general
    resolution's notes follow attribute order) or a span is rejected. Such a message, like
    anything else unusual (undecodable, an error), returns ``None`` and takes the standard
    path, with the very same outcome as if the fast pass had not run (it touches no stats).
    """
    clean = _Clean()
    try:
        calls = extractor_for(config).calls(MapTracesData.FromString(data), clean)
    except Exception:  # whatever it is, the standard path decides
        return None
    return calls, clean


def calls_from_protobuf(
    data: bytes, config: IngestConfig | None = None, stats: IngestStats | None = None
) -> list[LlmCall]:
    """Every model call in one OTLP protobuf message (one Kafka record value)."""
    if stats is not None:
        stats.messages += 1
    fast = _calls_if_clean(data, config)
    if fast is not None:
        calls, counted = fast
        if stats is not None:
            stats.spans += counted.spans
            stats.calls += counted.calls
        return calls
    try:
        return _extract(traces_from_protobuf(data), config, stats)
    except MalformedInput:
        if stats is not None:
            stats.malformed_messages += 1
        raise


def calls_from_json_line(
    line: str | bytes, config: IngestConfig | None = None, stats: IngestStats | None = None
) -> list[LlmCall]:
    """Every model call in one OTLP JSON document (one line of a file-exporter file)."""
    if stats is not None:
        stats.messages += 1
    try:
        return _extract(traces_from_json_line(line), config, stats)
    except MalformedInput:
        if stats is not None:
            stats.malformed_messages += 1
        raise


def _lines(stream: IO[Any]) -> Iterator[tuple[int, str | bytes]]:
    number = 0
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE_BYTES:  # drain the rest of an over-long line
            while line and not line.endswith(b"\n" if isinstance(line, bytes) else "\n"):
                line = stream.readline(MAX_LINE_BYTES)
            yield number, b"\x00too long"
            continue
        yield number, line


def iter_calls_from_file(
    source: str | Path | IO[Any],
    config: IngestConfig | None = None,
    on_error: Callable[[int, str], None] | None = None,
    stats: IngestStats | None = None,
) -> Iterator[LlmCall]:
    """Calls from an OTLP JSON-lines file (path, ``"-"`` is not special here) or open stream.

    A line that cannot be decoded is reported as ``on_error(line_number, reason)`` (1-based)
    and skipped; blank lines are ignored.
    """
    if isinstance(source, (str, Path)):
        with open(source, "rb") as stream:
            yield from iter_calls_from_file(stream, config, on_error, stats)
        return
    for number, line in _lines(source):
        if not line.strip():
            continue
        try:
            if line == b"\x00too long":
                if stats is not None:
                    stats.messages += 1
                    stats.malformed_messages += 1
                raise MalformedInput(f"line longer than {MAX_LINE_BYTES} bytes")
            calls = calls_from_json_line(line, config, stats)
        except MalformedInput as err:
            if on_error is not None:
                on_error(number, err.reason)
            continue
        yield from calls
