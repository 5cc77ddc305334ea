"""Compact call records on the internal calls topic, and the key that partitions them.

The repartition stage writes one record per :class:`LlmCall`, keyed so that every call of a
series lands on one partition. The key is the series (service, surface, provider, requested
model, environment); a detection ``SeriesKey`` that adds finer parts (a tenant) is still
confined to one partition, because a coarser key never splits a finer one.

>>> call = LlmCall(start_ns=1, end_ns=2, service="api", surface="chat", provider="openai",
...                request_model="gpt-4o", finish_reasons=("stop",), output_tokens=7)
>>> decode_call(encode_call(call)) == call
True
>>> decode_calls(encode_calls([call, call])) == [call, call]
True
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

import json
from dataclasses import fields
from typing import Any

from swapwatch.detector.calls import LlmCall
from swapwatch.detector.runtime.config import PartitionBy

_FIELD_NAMES = tuple(f.name for f in fields(LlmCall))
_FIELDS = frozenset(_FIELD_NAMES)
RECORD_CONTENT_TYPE = b"application/x-swapwatch-call+json;v=1"


class BadCallRecord(ValueError):
    """A calls-topic record that is not a call (dead-lettered, never fatal)."""


def _body(call: LlmCall) -> dict[str, Any]:
    # field by field: dataclasses.asdict deep-copies and is ~20x slower on the hot path
    body = {}
    for name in _FIELD_NAMES:
        value = getattr(call, name)
        if value is not None and value != {}:
            body[name] = value
    return body


def encode_call(call: LlmCall) -> bytes:
    """JSON without the ``None`` fields: small and readable with kafka-console-consumer."""
    return json.dumps(_body(call), separators=(",", ":"), ensure_ascii=False).encode()


def encode_calls(calls: list[LlmCall]) -> bytes:
    """Several calls of one key in one record (a JSON array): far fewer producer sends."""
    return json.dumps([_body(c) for c in calls], separators=(",", ":"),
                      ensure_ascii=False).encode()


def decode_calls(raw: bytes) -> list[LlmCall]:
    """A record holding one call (an object) or several (an array)."""
    try:
        body: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise BadCallRecord(f"not a JSON call record: {err}") from None
    if isinstance(body, list):
        return [_call(item) for item in body]
    return [_call(body)]


def decode_call(raw: bytes) -> LlmCall:
    calls = decode_calls(raw)
    if len(calls) != 1:
        raise BadCallRecord(f"expected one call, the record holds {len(calls)}")
    return calls[0]


def _call(body: Any) -> LlmCall:
    if not isinstance(body, dict):
        raise BadCallRecord("not a JSON call record: a call is not an object")
    unknown = set(body) - _FIELDS
    if unknown:
        raise BadCallRecord(f"unknown call fields: {sorted(unknown)}")
    if "finish_reasons" in body and body["finish_reasons"] is not None:
        body["finish_reasons"] = tuple(body["finish_reasons"])
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
