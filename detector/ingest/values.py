"""Attribute values → bounded, typed Python values; wrong or absurd values become ``None``.

The span walk keeps each interesting attribute's content (``unwrap``: a Python scalar, or an
``ArrayValue`` message); the converters here accept that, or a whole ``AnyValue``.

Every conversion reports why it refused a value through ``stats`` (never an exception), so a
service that writes ``gen_ai.usage.input_tokens = "-5"`` or a 10 MB model name is visible in
the counters and harmless downstream.

>>> from opentelemetry.proto.common.v1.common_pb2 import AnyValue
>>> from swapwatch.detector.ingest.errors import IngestStats
>>> stats = IngestStats()
>>> as_int(unwrap(AnyValue(int_value=-3)), "input_tokens", stats) is None
True
>>> as_int(unwrap(AnyValue(string_value="42")), "input_tokens", stats)
42
>>> as_text("x" * 10_000, "request_model", stats)[-3:]
'...'
>>> dict(stats.sanitised_values)
{'input_tokens: negative': 1, 'request_model: too long': 1}
"""

from __future__ import annotations

import math
from typing import Any

from swapwatch.detector.ingest.errors import IngestStats

MAX_TEXT = 256  # model names, ids, fingerprints: longer is not an identifier
MAX_COUNT = 1_000_000_000  # tokens or characters per call
MAX_SECONDS = 86_400.0
MAX_COST_USD = 100_000.0
MAX_LIST = 32

_SCALAR_TYPES = (str, int, float, bool)


def unwrap(value: Any) -> Any:
    """An ``AnyValue``'s content: a scalar, or the ``ArrayValue``/``KeyValueList`` message."""
    kind = value.WhichOneof("value")
    return None if kind is None else getattr(value, kind)


def plain(raw: Any) -> Any:
    """A walked value as a Python scalar, a tuple for arrays (bounded), ``None`` otherwise."""
    if isinstance(raw, _SCALAR_TYPES):
        return raw
    descriptor = getattr(raw, "DESCRIPTOR", None)
    if descriptor is not None and descriptor.name == "ArrayValue":
        return tuple(plain(unwrap(v)) for v in raw.values[:MAX_LIST])
    if descriptor is not None and descriptor.name == "AnyValue":
        return plain(unwrap(raw))
    return None


def _note(stats: IngestStats | None, field: str, why: str) -> None:
    if stats is not None:
        stats.sanitise(f"{field}: {why}")


def as_text(value: Any, field: str, stats: IngestStats | None) -> str | None:
    if type(value) is str and 0 < len(value) <= MAX_TEXT:  # the common case, no detours
        return value
    raw = plain(value)
    if isinstance(raw, tuple) and len(raw) == 1:  # a one-element array where a string belongs
        raw = raw[0]
    if not isinstance(raw, str):
        if raw is not None:
            _note(stats, field, "not a string")
        return None
    if not raw:
        return None
    if len(raw) > MAX_TEXT:
        _note(stats, field, "too long")
        return raw[: MAX_TEXT - 3] + "..."
    return raw


def as_int(value: Any, field: str, stats: IngestStats | None) -> int | None:
    if type(value) is int and 0 <= value <= MAX_COUNT:
        return value
    raw = plain(value)
    number: int | None = None
    if isinstance(raw, bool):
        number = None
    elif isinstance(raw, int):
        number = raw
    elif isinstance(raw, float) and raw.is_integer():
        number = int(raw)
    elif isinstance(raw, str) and len(raw) < 20:
        try:
            number = int(raw.strip())
        except ValueError:
            number = None
    if number is None:
        _note(stats, field, "not an integer")
        return None
    if number < 0:
        _note(stats, field, "negative")
        return None
    if number > MAX_COUNT:
        _note(stats, field, "absurdly large")
        return None
    return number


def as_float(
    value: Any, field: str, stats: IngestStats | None, upper: float = MAX_SECONDS
) -> float | None:
    raw = plain(value)
    number: float | None = None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        number = float(raw)
    elif isinstance(raw, str) and len(raw) < 40:
        try:
            number = float(raw.strip())
        except ValueError:
            number = None
    if number is None or math.isnan(number):
        _note(stats, field, "not a number")
        return None
    if number < 0 or number > upper:
        _note(stats, field, "out of range")
        return None
    return number


def as_bool(value: Any, field: str, stats: IngestStats | None) -> bool | None:
    raw = plain(value)
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    _note(stats, field, "not a boolean")
    return None


def as_text_list(value: Any, field: str, stats: IngestStats | None) -> tuple[str, ...] | None:
    raw = plain(value)
    items = raw if isinstance(raw, tuple) else (raw,)
    out = tuple(s[:MAX_TEXT] for s in items if isinstance(s, str) and s)
    if len(out) != len(items):
        _note(stats, field, "not strings")
    return out or None
