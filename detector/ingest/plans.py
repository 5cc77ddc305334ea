"""Per-shape plans: what a span's set of attribute keys decides before any value is read.

Spans from one instrumentor carry the same keys in the same order, so everything that depends
only on which keys are present is decided once per *shape* (the tuple of kept keys) and
cached: whether the span can be a model call, which key wins each
:class:`~swapwatch.detector.calls.LlmCall` field (precedence from
:mod:`~swapwatch.detector.ingest.dialects`) and so the row reader
(:func:`~swapwatch.detector.ingest.rows.compile_fields`), the dialect when the scope does not
say, and which optional readers apply.

>>> plan = plan_for(("gen_ai.request.model", "gen_ai.usage.input_tokens", "llm.model_name"))
>>> plan.gate == MARKED, plan.dialect
(True, None)
>>> from swapwatch.detector.ingest.rows import SLOT
>>> row = plan.fields({"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 7,
...                    "llm.model_name": "x"}, None)
>>> row[SLOT["request_model"]], row[SLOT["input_tokens"]], row[SLOT["response_model"]]
('gpt-4o', 7, 'x')
>>> plan_for(("server.address",)).gate == NEVER
True
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from swapwatch.detector.ingest import dialects as d
from swapwatch.detector.ingest.rows import compile_fields, winning_keys
from swapwatch.detector.ingest.values import plain

__all__ = [
    "CHECK_OPERATION",
    "CHECK_VALUES",
    "MARKED",
    "NEVER",
    "PLANS",
    "Plan",
    "is_model_call",
    "openinference_kind",
    "plan_for",
]


def openinference_kind(got: dict[str, Any]) -> str | None:
    value = got.get(d.OPENINFERENCE_KIND)
    return None if value is None else str(plain(value) or "").upper()


def is_model_call(got: dict[str, Any]) -> bool:
    """Whether walked attributes are a model call's (any dialect); a few dict lookups."""
    has_marker = not d.MODEL_MARKERS.isdisjoint(got)
    if d.OPENINFERENCE_KIND in got:
        kind = openinference_kind(got)
        if kind not in d.OPENINFERENCE_MODEL_KINDS:
            return False
        has_marker = True
    if not has_marker:
        return False
    operation = got.get("gen_ai.operation.name")
    return operation is None or operation not in d.NON_MODEL_OPERATIONS


def _dialect(keys: Collection[str]) -> str | None:
    for key, dialect in d.DIALECT_MARKERS:
        if key in keys:
            return dialect
    return None


# Plan.gate: what the shape says about being a model call (see Plan.is_model_call).
NEVER, MARKED, CHECK_OPERATION, CHECK_VALUES = 0, 1, 2, 3
_OPERATION = "gen_ai.operation.name"


class Plan:
    """What one shape decides; see the module docstring."""

    __slots__ = ("dialect", "evaluation", "fields", "gate", "invocation", "keys")

    def __init__(self, shape: tuple[str, ...]) -> None:
        self.keys = keys = frozenset(shape)
        marked = not d.MODEL_MARKERS.isdisjoint(keys)
        self.gate = (
            CHECK_VALUES if d.OPENINFERENCE_KIND in keys
            else NEVER if not marked
            else CHECK_OPERATION if _OPERATION in keys
            else MARKED
        )
        best = winning_keys(shape)
        # fields(got, stats) -> a fresh LlmCall row with the attribute fields resolved
        self.fields = compile_fields({name: key for name, (_, key) in best.items()})
        self.dialect = _dialect(keys)
        self.invocation = d.INVOCATION_PARAMETERS in keys
        self.evaluation = d.EVALUATION_NAME in keys and d.EVALUATION_SCORE in keys

    def is_model_call(self, got: dict[str, Any]) -> bool:
        """:func:`is_model_call`, with what the shape already decided skipped."""
        gate = self.gate
        if gate == CHECK_OPERATION:  # a marker, no OpenInference kind: only the operation
            return got[_OPERATION] not in d.NON_MODEL_OPERATIONS
        if gate == CHECK_VALUES:
            return is_model_call(got)
        return gate == MARKED


# Plans by shape; hot callers read this first (``PLANS.get(shape) or plan_for(shape)``).
PLANS: dict[tuple[str, ...], Plan] = {}
_MAX_PLANS = 1024


def plan_for(shape: tuple[str, ...]) -> Plan:
    """The (cached) plan of one shape."""
    plan = PLANS.get(shape)
    if plan is None:
        if len(PLANS) >= _MAX_PLANS:
            PLANS.clear()
        plan = PLANS[shape] = Plan(shape)
    return plan
