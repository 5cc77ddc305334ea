"""LlmCall rows: field values from walked attributes, the general way and the fast way.

A call is built positionally from a *row*, a list of all :class:`LlmCall` fields in order
(``SLOT`` maps a field name to its index; a call without keywords is the cheapest to make).

- :func:`resolve_fields` is the general resolution: each field from the highest-precedence
  key present whose value converts cleanly (converters in
  :mod:`~swapwatch.detector.ingest.values` sanitise and count what they refuse), falling back
  to lower-precedence keys.
- :func:`compile_fields` makes, per span shape, a ``fields(got, stats)`` for the common case
  where every winning value is already clean (a non-empty bounded string, an in-range count,
  a finite number in range, a bool, a usual list of finish reasons): type and range checks
  only, no conversion calls. The first value that needs more sends the whole span through
  the general resolution; the fast path has no side effects, so the result is exactly the
  general one.

>>> fields = compile_fields({"request_model": "gen_ai.request.model",
...                          "input_tokens": "gen_ai.usage.input_tokens"})
>>> row = fields({"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 7}, None)
>>> row[SLOT["request_model"]], row[SLOT["input_tokens"]], row[SLOT["output_tokens"]]
('gpt-4o', 7, None)
>>> fields({"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": "7"}, None) == row
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import fields as dataclass_fields
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import ArrayValue
from swapwatch.detector.calls import LlmCall
from swapwatch.detector.ingest import dialects as d
from swapwatch.detector.ingest.errors import IngestStats
from swapwatch.detector.ingest.identity import canonical_provider
from swapwatch.detector.ingest.values import (
    MAX_COST_USD,
    MAX_COUNT,
    MAX_LIST,
    MAX_SECONDS,
    MAX_TEXT,
    as_bool,
    as_float,
    as_int,
    as_text,
    as_text_list,
)

__all__ = ["FIELD_OF_KEY", "ROW_LENGTH", "SLOT", "Fields", "compile_fields", "resolve_fields",
           "winning_keys"]

_Convert = Callable[[Any, str, IngestStats | None], Any]


def _cost(value: Any, field: str, stats: IngestStats | None) -> float | None:
    return as_float(value, field, stats, upper=MAX_COST_USD)


# LlmCall field -> converter for its values.
_CONVERTERS: dict[str, _Convert] = {
    "provider": as_text,
    "server_address": as_text,
    "operation": as_text,
    "request_model": as_text,
    "response_model": as_text,
    "response_id": as_text,
    "input_tokens": as_int,
    "output_tokens": as_int,
    "cached_input_tokens": as_int,
    "reasoning_tokens": as_int,
    "finish_reasons": as_text_list,
    "system_fingerprint": as_text,
    "service_tier": as_text,
    "time_to_first_chunk_s": as_float,
    "streaming": as_bool,
    "prompt_chars": as_int,
    "cost_usd": _cost,
    "error_type": as_text,
}
assert _CONVERTERS.keys() == d.FIELD_SOURCES.keys()
# attribute key -> (LlmCall field, precedence rank: lower wins)
FIELD_OF_KEY: dict[str, tuple[str, int]] = {
    key: (name, rank) for name, keys in d.FIELD_SOURCES.items() for rank, key in enumerate(keys)
}

# Whoever fills a row gives it a fresh ``evaluations`` dict.
SLOT: dict[str, int] = {f.name: i for i, f in enumerate(dataclass_fields(LlmCall))}
ROW_LENGTH = len(SLOT)
_EMPTY_ROW: list[Any] = [None] * ROW_LENGTH
_EMPTY_ROW[SLOT["is_error"]] = False
_PROVIDER, _REASONS = SLOT["provider"], SLOT["finish_reasons"]


def winning_keys(keys: Iterable[str]) -> dict[str, tuple[int, str]]:
    """For each field some of ``keys`` carry: (rank, key) of its highest-precedence key."""
    best: dict[str, tuple[int, str]] = {}
    for key in keys:
        spec = FIELD_OF_KEY.get(key)
        if spec is not None:
            name, rank = spec
            current = best.get(name)
            if current is None or rank < current[0]:
                best[name] = (rank, key)
    return best


def resolve_fields(got: dict[str, Any], stats: IngestStats | None) -> dict[str, Any]:
    """Each field's value from the highest-precedence key present that converts cleanly."""
    best = winning_keys(got)
    fields: dict[str, Any] = {}
    for name, (rank, key) in best.items():
        convert = _CONVERTERS[name]
        value = convert(got[key], name, stats)
        if value is None:  # the winning key held junk; try the others in order
            for other in d.FIELD_SOURCES[name][rank + 1:]:
                if other in got:
                    value = convert(got[other], name, stats)
                    if value is not None:
                        break
        if value is not None:
            fields[name] = value
    return fields


def _general_row(got: dict[str, Any], stats: IngestStats | None) -> list[Any]:
    """The row by :func:`resolve_fields`, provider canonical and finish reasons aliased."""
    row = _EMPTY_ROW[:]
    for name, value in resolve_fields(got, stats).items():
        row[SLOT[name]] = value
    if row[_PROVIDER] is not None:
        row[_PROVIDER] = canonical_provider(row[_PROVIDER])
    reasons = row[_REASONS]
    if reasons is not None:
        aliases = d.FINISH_REASON_ALIASES
        row[_REASONS] = tuple(aliases.get(r, r) for r in reasons)
    return row


Fields = Callable[[dict[str, Any], IngestStats | None], list[Any]]

# How the fast path accepts a value, by converter (``{v}``: the value's variable).
_CLEAN: dict[_Convert, str] = {
    as_text: f"{{v}}.__class__ is str and 0 < len({{v}}) <= {MAX_TEXT:d}",
    as_int: f"{{v}}.__class__ is int and 0 <= {{v}} <= {MAX_COUNT:d}",
    as_float: f"{{v}}.__class__ is float and 0.0 <= {{v}} <= {MAX_SECONDS!r}",
    _cost: f"{{v}}.__class__ is float and 0.0 <= {{v}} <= {MAX_COST_USD!r}",
    as_bool: "{v}.__class__ is bool",
    as_text_list: "{v} is not None",  # after common_reasons()
}


def compile_fields(winners: dict[str, str]) -> Fields:
    """``fields(got, stats)`` for spans whose field -> winning key is ``winners``: a fresh
    row with the attribute fields resolved (others ``None``), the provider canonical, the
    finish reasons aliased (see the module docstring).

    Generated as straight-line code (as :mod:`dataclasses` generates ``__init__``): a loop
    over the plan cost about a third more per span. Only trusted names and numbers go into
    the source; attribute keys are passed in as variables (``K<slot>``).
    """
    ns: dict[str, Any] = {
        "general": _general_row, "common_reasons": _common_reasons,
        "provider_of": _provider, "PROVIDERS": _PROVIDERS,
    }
    body, clean = [], []
    values = ["None"] * ROW_LENGTH
    values[SLOT["is_error"]] = "False"
    for name, key in winners.items():
        slot, convert = SLOT[name], _CONVERTERS[name]
        ns[f"K{slot}"], var = key, f"v{slot}"
        read = f"got[K{slot}]"
        if name == "finish_reasons":
            read = f"common_reasons({read})"
        body.append(f"    {var} = {read}")
        clean.append(_CLEAN[convert].format(v=var))
        values[slot] = (
            f"PROVIDERS.get({var}) or provider_of({var})" if name == "provider" else var
        )
    lines = ["def fields(got, stats):", *body]
    if clean:
        lines.append("    if not (" + "\n            and ".join(clean) + "):")
        lines.append("        return general(got, stats)")
    lines.append("    return [" + ", ".join(values) + "]")
    exec(compile("\n".join(lines), "<swapwatch row fields>", "exec"), ns)
    fields: Fields = ns["fields"]
    return fields


_MAX_CACHED = 4096
_PROVIDERS: dict[str, str] = {}
_REASON_LISTS: dict[str | bytes, tuple[str, ...]] = {}


def _provider(name: str) -> str:
    found = _PROVIDERS.get(name)
    if found is None:
        if len(_PROVIDERS) >= _MAX_CACHED:
            _PROVIDERS.clear()
        found = _PROVIDERS[name] = canonical_provider(name)
    return found


def _common_reasons(raw: Any) -> tuple[str, ...] | None:
    """Finish reasons, aliased, when written the usual way: a non-empty string or an array
    (at most ``MAX_LIST``) of non-empty strings; else ``None`` (the general path decides).

    Cached by the array's encoding: one call into the protobuf runtime instead of one per
    element (a few distinct lists cover almost every call)."""
    key: str | bytes
    if raw.__class__ is ArrayValue:
        key = raw.SerializeToString()
    elif raw.__class__ is str:
        key = raw
    else:
        return None
    found = _REASON_LISTS.get(key)
    if found is None:
        found = _read_reasons(raw)
        if found is None:
            return None
        if len(_REASON_LISTS) >= _MAX_CACHED:
            _REASON_LISTS.clear()
        _REASON_LISTS[key] = found
    return found


def _read_reasons(raw: Any) -> tuple[str, ...] | None:
    if isinstance(raw, str):
        items: tuple[str, ...] | list[str] = (raw,)
    else:
        values = raw.values
        if not 0 < len(values) <= MAX_LIST:
            return None
        items = [v.string_value for v in values]  # "" for an empty or non-string value
    if not all(items):
        return None
    aliases = d.FINISH_REASON_ALIASES
    return tuple(aliases.get(r[:MAX_TEXT], r[:MAX_TEXT]) for r in items)
