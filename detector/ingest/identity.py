"""Model identity: which served model strings are the artifact a request asked for.

Providers answer an alias with a dated snapshot (``gpt-4o`` → ``gpt-4o-2024-08-06``,
``claude-sonnet-4-5`` → ``claude-sonnet-4-5-20250929``), and routers and clouds wrap ids in
prefixes (``openai/gpt-4o``, ``us.anthropic.claude-…-v2:0``, ``publishers/…/models/…@date``).
Those are the same artifact. Another family or size (``gpt-4o-mini-…``, ``…-haiku-…``) or a
fine-tune answered by its base model is not.

Two sources decide, in this order:

1. the normalisation rules in ``model_rules.json`` (data, not code): strip wrappers, split
   the snapshot off the alias, compare the aliases; both pinned to different snapshots → not
   expected; fine-tunes (``ft:…``) only match themselves;
2. the maintained ``genai-prices`` catalog, whose per-model match rules group aliases with
   their snapshots (``gpt-4-turbo-preview`` ↔ ``gpt-4-0125-preview``).

>>> canonical_model("openai/gpt-4o-2024-08-06")
'gpt-4o'
>>> canonical_model("us.anthropic.claude-3-5-sonnet-20241022-v2:0")
'claude-3-5-sonnet'
>>> is_expected("gpt-4o", "gpt-4o-2024-08-06")
True
>>> is_expected("claude-sonnet-4-5", "claude-sonnet-4-5-20250929")
True
>>> is_expected("gpt-4o", "gpt-4o-mini-2024-07-18")
False
>>> is_expected("ft:gpt-4o-2024-08-06:acme::B9x", "gpt-4o-2024-08-06")
False
>>> is_expected("gpt-4o-2024-08-06", "gpt-4o-2024-05-13")  # pinned to another snapshot
False
>>> canonical_provider("Anthropic"), canonical_provider("mistralai")
('anthropic', 'mistral_ai')
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

__all__ = [
    "ModelName",
    "canonical_model",
    "canonical_provider",
    "is_expected",
    "parse_model",
    "same_catalog_model",
]


@dataclass(frozen=True, slots=True)
class _Rules:
    opaque: tuple[re.Pattern[str], ...]
    prefixes: tuple[re.Pattern[str], ...]
    snapshots: tuple[re.Pattern[str], ...]
    providers: dict[str, str]


@lru_cache(maxsize=1)
def _rules() -> _Rules:
    raw = json.loads(files(__package__).joinpath("model_rules.json").read_text())
    return _Rules(
        opaque=tuple(re.compile(p) for p in raw["opaque"]),
        prefixes=tuple(re.compile(p) for p in raw["prefixes"]),
        snapshots=tuple(re.compile(p) for p in raw["snapshots"]),
        providers=dict(raw["providers"]),
    )


@dataclass(frozen=True, slots=True)
class ModelName:
    """A model identifier split into its alias (``family``) and pinned ``snapshot``.

    >>> parse_model("claude-3-5-haiku@20241022")
    ModelName(family='claude-3-5-haiku', snapshot='20241022', opaque=False)
    """

    family: str
    snapshot: str | None
    opaque: bool


@lru_cache(maxsize=4096)
def parse_model(name: str) -> ModelName:
    """Normalise one identifier with the rules in ``model_rules.json``; never raises."""
    rules = _rules()
    text = name.strip().lower()
    if any(p.search(text) for p in rules.opaque):
        return ModelName(text, None, True)
    for _ in range(8):  # bounded: rules shrink the string, a loop cannot go on forever
        for pattern in rules.prefixes:
            m = pattern.match(text)
            if m and m.group("rest"):
                text = m.group("rest")
                break
        else:
            break
    if any(p.search(text) for p in rules.opaque):
        return ModelName(text, None, True)
    snapshot: str | None = None
    for _ in range(8):
        for pattern in rules.snapshots:
            m = pattern.match(text)
            if m and m.group("family"):
                text = m.group("family")
                found = m.groupdict().get("snapshot")
                if found and snapshot is None:
                    snapshot = found.replace("-", "")
                break
        else:
            break
    return ModelName(text, snapshot, False)


def canonical_model(name: str) -> str:
    """The alias a model identifier belongs to: provider wrappers and snapshot dates removed.

    >>> canonical_model("claude-sonnet-4-5-20250929")
    'claude-sonnet-4-5'
    >>> canonical_model("projects/p/locations/us/publishers/google/models/gemini-1.5-pro-002")
    'gemini-1.5-pro'
    """
    return parse_model(name).family


@lru_cache(maxsize=1024)
def canonical_provider(name: str) -> str:
    """A provider name as any dialect writes it → the OTel GenAI semconv well-known value."""
    text = name.strip().lower()
    return _rules().providers.get(text, text)


@lru_cache(maxsize=4096)
def same_catalog_model(a: str, b: str) -> bool:
    """Whether the genai-prices catalog files both identifiers under one model entry."""
    from swapwatch.detector.ingest.pricing import catalog_model_id

    first, second = catalog_model_id(a), catalog_model_id(b)
    return first is not None and first == second


@lru_cache(maxsize=16384)
def is_expected(request_model: str, served_model: str) -> bool:
    """True when ``served_model`` is the artifact ``request_model`` names (snapshot-aware).

    Empty strings carry no evidence and count as expected. Never raises.
    """
    if not request_model or not served_model:
        return True
    requested, served = parse_model(request_model), parse_model(served_model)
    if requested.opaque or served.opaque:
        return requested.family == served.family
    if requested.snapshot and served.snapshot and requested.snapshot != served.snapshot:
        return False
    if requested.family == served.family:
        return True
    return same_catalog_model(request_model, served_model)
