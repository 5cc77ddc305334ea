"""Compact call records on the internal calls topic, and the key that partitions them.

The repartition stage writes batches of :class:`LlmCall` per key, keyed so that every call of
a series lands on one partition. The key is the series (service, surface, provider, requested
model, environment); a detection ``SeriesKey`` that adds finer parts (a tenant) is still
confined to one partition, because a coarser key never splits a finer one.

Format v2 (``application/x-swapwatch-calls+json;v=2``, the content-type header of every
record): one JSON object ``{"v": 2, "fields": [...], "calls": [[...], ...]}``, each call a
positional row of the fields named once per record. Rows instead of one object per call make
the hop ~4x cheaper (orjson writes the rows straight from the dataclass' attributes, and a row
becomes an ``LlmCall`` without a dict of keyword arguments), and naming the fields keeps it
self-describing: a reader whose ``LlmCall`` gained or reordered fields still maps rows by
name. Records of format v1 (``application/x-swapwatch-call+json;v=1``: one JSON object per
call, or an array of them, ``None`` fields left out) are still read, so that the calls topic
can hold both during a rolling upgrade. (JSON has no NaN, which orjson writes as ``null``;
extraction never puts a non-finite number in a call.)

>>> call = LlmCall(start_ns=1, end_ns=2, service="api", surface="chat", provider="openai",
...                request_model="gpt-4o", finish_reasons=("stop",), output_tokens=7)
>>> decode_call(encode_call(call)) == call
True
>>> decode_calls(encode_calls([call, call])) == [call, call]
True
>>> decode_calls(b'{"start_ns": 1, "end_ns": 2, "finish_reasons": ["stop"]}')[0].finish_reasons
('stop',)
>>> partition_key(call, "series")
b'api|chat|openai|gpt-4o|-'
>>> partition_key(call, "provider")
b'openai'
>>> decode_call(b"not json")
Traceback (most recent call last):
...
swapwatch.detector.runtime.records.BadCallRecord: not a JSON call record: ...
"""

from __future__ import annotations

from dataclasses import fields
from operator import attrgetter
from typing import Any

from swapwatch.detector.calls import LlmCall
from swapwatch.detector.runtime.config import PartitionBy

_FIELD_NAMES = tuple(f.name for f in fields(LlmCall))
_FIELDS = frozenset(_FIELD_NAMES)
_FIELD_LIST = list(_FIELD_NAMES)  # what orjson.loads gives back for our own records
_ROW = attrgetter(*_FIELD_NAMES)
_WIDTH = len(_FIELD_NAMES)
_FINISH = _FIELD_NAMES.index("finish_reasons")
_START, _END = _FIELD_NAMES.index("start_ns"), _FIELD_NAMES.index("end_ns")
FORMAT_VERSION = 2
RECORD_CONTENT_TYPE = b"application/x-swapwatch-calls+json;v=2"
RECORD_CONTENT_TYPE_V1 = b"application/x-swapwatch-call+json;v=1"
RECORD_HEADERS = [("content-type", RECORD_CONTENT_TYPE)]


class BadCallRecord(ValueError):
    """A calls-topic record that is not a call (dead-lettered, never fatal)."""


def encode_call(call: LlmCall) -> bytes:
    """One call as a v2 record (a batch of one)."""
    return encode_calls([call])


def encode_calls(calls: list[LlmCall]) -> bytes:
    """Several calls of one key in one record: far fewer producer sends, one field list."""
    import orjson  # the detector's extra; the collector imports this module for partition_key

    return orjson.dumps({"v": FORMAT_VERSION, "fields": _FIELD_NAMES,
                         "calls": list(map(_ROW, calls))})


def decode_calls(raw: bytes) -> list[LlmCall]:
    """The calls of a v2 record, or of a v1 record holding one call (an object) or several
    (an array)."""
    import orjson

    try:
        body: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise BadCallRecord(f"not a JSON call record: {err}") from None
    if isinstance(body, dict) and "v" in body:
        return _v2(body)
    if isinstance(body, list):
        return [_call(item) for item in body]
    return [_call(body)]


def decode_call(raw: bytes) -> LlmCall:
    calls = decode_calls(raw)
    if len(calls) != 1:
        raise BadCallRecord(f"expected one call, the record holds {len(calls)}")
    return calls[0]


def _v2(body: dict[str, Any]) -> list[LlmCall]:
    if body.get("v") != FORMAT_VERSION or set(body) != {"v", "fields", "calls"}:
        raise BadCallRecord(f"not a v{FORMAT_VERSION} call record: "
                            f"v={body.get('v')!r}, keys {sorted(body)}")
    names, rows = body["fields"], body["calls"]
    if not isinstance(rows, list) or not isinstance(names, list):
        raise BadCallRecord("not a JSON call record: fields and calls are not arrays")
    if names != _FIELD_LIST:  # written by a version with other fields: map them by name
        return [_call(_named(names, row)) for row in rows]
    out = []
    for row in rows:
        if type(row) is not list or len(row) != _WIDTH:
            raise BadCallRecord(f"not a JSON call record: a call is not a row of {_WIDTH}")
        if type(row[_START]) is not int or type(row[_END]) is not int:
            raise BadCallRecord("incomplete call record: start_ns and end_ns must be integers")
        finish = row[_FINISH]
        if finish is not None:
            if type(finish) is not list:
                raise BadCallRecord("not a JSON call record: finish_reasons is not an array")
            row[_FINISH] = tuple(finish)
        out.append(LlmCall(*row))
    return out


def _named(names: list[Any], row: Any) -> dict[Any, Any]:
    if not all(isinstance(name, str) for name in names):
        raise BadCallRecord("not a JSON call record: a field name is not a string")
    if not isinstance(row, list) or len(row) != len(names):
        raise BadCallRecord(f"not a JSON call record: a call is not a row of {len(names)}")
    return dict(zip(names, row, strict=True))


def _call(body: Any) -> LlmCall:
    if not isinstance(body, dict):
        raise BadCallRecord("not a JSON call record: a call is not an object")
    unknown = set(body) - _FIELDS
    if unknown:
        raise BadCallRecord(f"unknown call fields: {sorted(unknown)}")
    finish = body.get("finish_reasons")
    if finish is not None:
        if not isinstance(finish, list):
            raise BadCallRecord("not a JSON call record: finish_reasons is not an array")
        body["finish_reasons"] = tuple(finish)
    try:
        return LlmCall(**body)
    except TypeError as err:
        raise BadCallRecord(f"incomplete call record: {err}") from None


def partition_key(call: LlmCall, by: PartitionBy) -> bytes:
    """The record key: equal for every call of one series (or of one provider)."""
    if by == "provider":
        return (call.provider or "-").encode()
    parts = (call.service, call.surface, call.provider, call.request_model, call.environment)
    return "|".join(p or "-" for p in parts).encode()


def call_identity(call: LlmCall) -> tuple[str, str] | None:
    """(trace id, span id) when both are known: what makes a redelivered call recognisable."""
    if call.trace_id and call.span_id:
        return (call.trace_id, call.span_id)
    return None
