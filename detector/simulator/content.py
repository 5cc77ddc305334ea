"""Deterministic generated content: filler words (about one per token) and tool-call arguments.

>>> words = filler_words(5, seed=7)
>>> len(words), words == filler_words(5, seed=7)
(5, True)
>>> import json
>>> tool = {"type": "object", "properties": {"city": {"type": "string"},
...                                          "days": {"type": "integer"}}}
>>> sorted(json.loads(tool_arguments(tool, seed=1)))
['city', 'days']
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# Short common English words: each is a single token in the GPT and Claude tokenizers.
_WORD_TEXT = (
    "the of and to in is that for it as with was on be at by this had not are but from or "
    "have an they which one you were all we when there can more if out so said what up its "
    "about into than them only other new some could time these two may then do first any "
    "like now my such make over our even most made after also did many before must through "
    "back years where much your way well down should because each just those people how too "
    "little state good very world still own see men work long get here between both life "
    "being under never day same another know while last might great old year off come since "
    "against go came right used take three"
)
_WORDS = _WORD_TEXT.split()

# Knuth's MMIX linear congruential generator: cheap, deterministic, good enough for filler.
_LCG_MULTIPLIER = 6364136223846793005
_LCG_INCREMENT = 1442695040888963407
_LCG_MIX = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1

# Cap on generated properties per tool call: arguments stay small whatever the schema.
_MAX_TOOL_PROPERTIES = 4


def filler_words(count: int, seed: int = 0) -> list[str]:
    """``count`` deterministic words; the same ``(count, seed)`` always gives the same words."""
    state = (seed ^ _LCG_MIX) & _MASK64
    words = []
    for _ in range(max(count, 0)):
        state = (state * _LCG_MULTIPLIER + _LCG_INCREMENT) & _MASK64
        words.append(_WORDS[(state >> 33) % len(_WORDS)])
    return words


def filler_text(count: int, seed: int = 0) -> str:
    """``count`` filler words joined by spaces."""
    return " ".join(filler_words(count, seed))


def text_pieces(count: int, seed: int = 0) -> list[str]:
    """The filler text split into stream deltas, one word (one token) per piece."""
    return [word if i == 0 else " " + word for i, word in enumerate(filler_words(count, seed))]


def _value_for(schema: Mapping[str, Any], seed: int) -> Any:
    kind = schema.get("type")
    if "enum" in schema and isinstance(schema["enum"], list) and schema["enum"]:
        return schema["enum"][seed % len(schema["enum"])]
    if kind == "integer":
        return seed % 10 + 1
    if kind == "number":
        return (seed % 100) / 10
    if kind == "boolean":
        return seed % 2 == 0
    if kind == "array":
        return [filler_text(1, seed)]
    if kind == "object":
        return {}
    return filler_text(2, seed)


def tool_arguments(parameters: Mapping[str, Any] | None, seed: int = 0) -> str:
    """JSON arguments that fit a tool's JSON-schema ``parameters`` (loosely: names and types)."""
    properties = (parameters or {}).get("properties")
    if not isinstance(properties, Mapping) or not properties:
        return json.dumps({"query": filler_text(3, seed)})
    arguments = {
        name: _value_for(schema if isinstance(schema, Mapping) else {}, seed + i)
        for i, (name, schema) in enumerate(list(properties.items())[:_MAX_TOOL_PROPERTIES])
    }
    return json.dumps(arguments)


def split_for_stream(text: str, pieces: int) -> list[str]:
    """Split ``text`` into at most ``pieces`` consecutive non-empty fragments.

    >>> split_for_stream('{"a": 1}', 3)
    ['{"a', '": ', '1}']
    >>> "".join(split_for_stream("abc", 10))
    'abc'
    """
    pieces = max(1, min(pieces, len(text)))
    size = -(-len(text) // pieces)
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]
