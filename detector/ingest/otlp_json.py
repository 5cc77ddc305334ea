"""One line of OTLP JSON (Collector file exporter, Kafka ``otlp_json``) → ``TracesData``.

OTLP JSON differs from protobuf's canonical JSON mapping in one way that matters: trace and
span ids are hex, not base64, so ``google.protobuf.json_format`` alone would decode them into
the wrong bytes. The ids are rewritten first; the rest (int64 as strings, ``arrayValue``,
``kvlistValue``, enum names or numbers, camelCase or snake_case keys) is protobuf's JSON
mapping.

>>> line = ('{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":'
...         '"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",'
...         '"startTimeUnixNano":"1700000000000000000","name":"chat gpt-4o"}]}]}]}')
>>> span = traces_from_json_line(line).resource_spans[0].scope_spans[0].spans[0]
>>> span.trace_id.hex(), span.start_time_unix_nano
('5b8efff798038103d269b633813fc60c', 1700000000000000000)
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
from swapwatch.detector.ingest.errors import MalformedInput

__all__ = ["traces_from_json_line"]

_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")
_ID_HEX_LENGTHS = frozenset({16, 32})
MAX_LINE_BYTES = 64 * 1024 * 1024


def _hex_to_b64(value: Any) -> Any:
    if isinstance(value, str) and len(value) in _ID_HEX_LENGTHS:
        try:
            return base64.b64encode(bytes.fromhex(value)).decode("ascii")
        except ValueError:
            return value  # not hex: leave it to protobuf's base64 rules
    return value


def _fix_ids(obj: dict[str, Any]) -> None:
    for name in _ID_FIELDS:
        if name in obj:
            obj[name] = _hex_to_b64(obj[name])


def _children(obj: Any, *names: str) -> list[Any]:
    if not isinstance(obj, dict):
        return []
    for name in names:
        value = obj.get(name)
        if isinstance(value, list):
            return value
    return []


def traces_from_json_line(line: str | bytes) -> TracesData:
    """Decode one OTLP JSON document; raise :class:`MalformedInput` with the reason."""
    if len(line) > MAX_LINE_BYTES:
        raise MalformedInput(f"line longer than {MAX_LINE_BYTES} bytes")
    try:
        doc = json.loads(line)
    except (ValueError, RecursionError) as err:
        raise MalformedInput(f"not JSON: {str(err)[:120]}") from None
    if not isinstance(doc, dict):
        raise MalformedInput("not an OTLP JSON object")
    if not any(k in doc for k in ("resourceSpans", "resource_spans")):
        raise MalformedInput("no resourceSpans: not OTLP traces")
    for resource_spans in _children(doc, "resourceSpans", "resource_spans"):
        for scope_spans in _children(resource_spans, "scopeSpans", "scope_spans"):
            for span in _children(scope_spans, "spans"):
                if isinstance(span, dict):
                    _fix_ids(span)
                    for link in _children(span, "links"):
                        if isinstance(link, dict):
                            _fix_ids(link)
    try:
        return json_format.ParseDict(doc, TracesData(), ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, RecursionError, binascii.Error) as err:
        raise MalformedInput(f"not OTLP traces: {str(err)[:160]}") from None
