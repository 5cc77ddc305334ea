"""The attribute walk: a span's wanted attributes as ``{key: value content}``, read cheaply.

This is the one loop that runs for every attribute of every span, so it does as little as
possible: one dict lookup of the key in a table built once per configuration; keys not in
the table are skipped before their value is touched. A wanted value is read through the
``AnyValue`` field its key is normally written in (``string_value`` for a model name,
``int_value`` for a token count): a non-empty, non-zero read proves that member of the
``value`` oneof is the one set, which saves the ``WhichOneof`` call. Anything else (an empty
string, a zero, a value of another type, an array) falls back to ``WhichOneof``, so the
result is always exactly ``{key: getattr(v, v.WhichOneof("value"))}`` over the wanted keys
whose value is set (later duplicates win, in first-seen order): a table entry only decides
speed, never what is read.

>>> from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
>>> attrs = [KeyValue(key="gen_ai.usage.input_tokens", value=AnyValue(string_value="12")),
...          KeyValue(key="server.port", value=AnyValue(int_value=443)),
...          KeyValue(key="gen_ai.request.model", value=AnyValue(string_value="gpt-4o"))]
>>> walk(attrs, key_table(["gen_ai.usage.input_tokens", "gen_ai.request.model"]))
{'gen_ai.usage.input_tokens': '12', 'gen_ai.request.model': 'gpt-4o'}
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from swapwatch.detector.ingest import dialects as d

__all__ = ["KeyTable", "MapInexact", "key_table", "walk", "walk_map"]

# key -> the AnyValue field to read first; "" = always ask WhichOneof (arrays, unknown types).
KeyTable = dict[str, str]

_INT = "int_value"
_DOUBLE = "double_value"
_BOOL = "bool_value"
_STRING = "string_value"
# Fields (of LlmCall) whose keys are written as something other than a string.
_FIELD_READ_AS: dict[str, str] = {
    "input_tokens": _INT,
    "output_tokens": _INT,
    "cached_input_tokens": _INT,
    "reasoning_tokens": _INT,
    "prompt_chars": _INT,
    "time_to_first_chunk_s": _DOUBLE,
    "cost_usd": _DOUBLE,
    "streaming": _BOOL,
    "finish_reasons": "",  # an array
}
_READ_AS: dict[str, str] = {
    "gen_ai.usage.total_tokens": _INT,
    "llm.usage.total_tokens": _INT,
    d.EVALUATION_SCORE: _DOUBLE,
    **{
        key: _FIELD_READ_AS[name]
        for name, keys in d.FIELD_SOURCES.items()
        if name in _FIELD_READ_AS
        for key in keys
    },
}


def key_table(keys: Iterable[str]) -> KeyTable:
    """The walk's table for ``keys``: each key with the field to read it through first."""
    return {key: _READ_AS.get(key, _STRING) for key in keys}


def walk(attributes: Any, table: KeyTable) -> dict[str, Any]:
    """The content of each attribute whose key is in ``table`` (see the module docstring)."""
    got: dict[str, Any] = {}
    read_as = table.get
    for kv in attributes:
        key = kv.key
        field = read_as(key)
        if field is not None:
            value = kv.value
            if field:
                raw = getattr(value, field)
                if raw:
                    got[key] = raw
                    continue
            field = value.WhichOneof("value")
            if field is not None:
                got[key] = getattr(value, field)
    return got


class MapInexact(Exception):
    """A span parsed with map attributes (:mod:`~swapwatch.detector.ingest.lite`) whose result
    could differ from the list's: decode the message the standard way instead."""


def walk_map(attributes: Any, table: KeyTable) -> dict[str, Any]:
    """:func:`walk` over map-parsed attributes (``MapTracesData``): the same dict, in map
    order. Raises :class:`MapInexact` for a wanted key whose value is unset: with duplicated
    keys the list walk keeps an earlier set value there, the map only has the last one."""
    got: dict[str, Any] = {}
    read_as = table.get
    for key in attributes:
        field = read_as(key)
        if field is not None:
            value = attributes[key]
            if field:
                raw = getattr(value, field)
                if raw:
                    got[key] = raw
                    continue
            field = value.WhichOneof("value")
            if field is None:
                raise MapInexact(key)
            got[key] = getattr(value, field)
    return got
