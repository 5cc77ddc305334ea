"""Signal learners: one per signal per series key, each reading one trait of an ``LlmCall``.

Every learner has the same small contract (river's conventions: hyperparameters stored as
passed, state in ``_private`` attributes, picklable):

* ``learn_one(call) -> event`` — ``SHIFTED`` / ``WITHDRAWN`` / ``NO_EVENT``;
* ``shifted``, ``shift_started_ns``, ``shift_started_index`` (the estimated change point, in
  event time and in calls of the key), ``summary()`` (before/after), ``rebaseline()``.

What each learner sees (the transformation is the point):

========== ===============================================================================
signal     value
========== ===============================================================================
latency    log duration minus the baseline's log duration for calls of similar input and
           output size (a 2-D grid of log-size bins): longer prompts/answers are not slower
ttft       log time to first chunk minus the baseline for similar input size
decode_rate log output tokens/s after the first chunk minus the baseline for similar output
           size
output_tokens log(1 + output tokens)
tokenizer  log(input tokens / prompt characters)
cost       log(price / (input + 4 × output tokens)): the catalog price of the served model
           per weighted token, so a longer prompt is not a dearer model
quality    mean evaluation score on the span
model_share served model; fingerprint: system fingerprint; finish_reason: first finish
           reason; errors: ``ok`` or the error type
========== ===============================================================================

>>> from swapwatch.detector.calls import LlmCall
>>> from swapwatch.detector.detection.config import DetectionConfig
>>> learners = build_learners(DetectionConfig(signals=["output_tokens", "finish_reason"]))
>>> call = LlmCall(start_ns=0, end_ns=10**9, output_tokens=50, finish_reasons=("stop",))
>>> [learner.learn_one(call, index=0) for learner in learners]
[0, 0]
>>> [learner.name for learner in learners]
['output_tokens', 'finish_reason']
"""

from __future__ import annotations

import math
from array import array
from typing import Any

from swapwatch.detector.calls import LlmCall
from swapwatch.detector.detection.categorical import ShareShift
from swapwatch.detector.detection.config import DetectionConfig
from swapwatch.detector.detection.numeric import NO_EVENT, BlockShift
from swapwatch.detector.detection.observe import BINS, CATEGORIES, OBSERVERS

TIMING_SIGNALS = frozenset({"latency", "ttft", "decode_rate"})
#: Signals that load and provider incidents move without any change of model.
LOAD_SIGNALS = TIMING_SIGNALS | {"errors"}


class ConditionedCenter:
    """Baseline log value per size bin: what a call of this size usually measures.

    Bins hold a running mean that remembers about ``memory`` calls; a bin conditions only
    once it has ``min_support`` calls (before that the call is learned, not tested).

    >>> centers = ConditionedCenter(bins=4, memory=100, min_support=2)
    >>> centers.residual(1, 2.0) is None
    True
    >>> centers.learn(1, 2.0); centers.learn(1, 4.0)
    >>> centers.residual(1, 3.5)
    0.5
    """

    __slots__ = ("_count", "_mean", "memory", "min_support")

    def __init__(self, bins: int, memory: int, min_support: int) -> None:
        self.memory = memory
        self.min_support = min_support
        self._mean = array("f", [0.0]) * bins
        self._count = array("H", [0]) * bins  # at most ``memory`` (<= 65535)

    def residual(self, b: int, y: float) -> float | None:
        return self.residual_then_learn(b, y, learn=False)

    def move(self, delta: float) -> None:
        """Shift every bin's centre: the whole regime moved (a new baseline was adopted)."""
        for b in range(len(self._mean)):
            self._mean[b] += delta

    def learn(self, b: int, y: float) -> None:
        self.residual_then_learn(b, y, learn=True)

    def residual_then_learn(self, b: int, y: float, learn: bool) -> float | None:
        """``y`` minus its bin's centre (``None`` while the bin has too little support), then,
        if ``learn``, ``y`` learned into the bin: one call per value on the hot path."""
        count, mean = self._count, self._mean
        n, m = count[b], mean[b]
        r = None if n < self.min_support else y - m
        if learn:
            if n < self.memory:
                n += 1
                count[b] = n
            mean[b] = m + (y - m) / n
        return r


class _Learner:
    """What every signal learner shares: a name, a change-point core (``_test``) whose shift
    state it reports, and learning many calls as learning each."""

    __slots__ = ("_test", "name")

    _test: BlockShift | ShareShift
    name: str

    def learn_one(self, call: LlmCall, index: int) -> int:
        raise NotImplementedError

    def learn_many(self, calls: list[LlmCall], first_index: int) -> list[int]:
        """``learn_one`` over consecutive calls of the key; returns the events that happened."""
        events = (self.learn_one(call, first_index + offset) for offset, call in enumerate(calls))
        return [event for event in events if event]

    @property
    def shifted(self) -> bool:
        return self._test.shifted

    @property
    def warm(self) -> bool:
        return self._test.warm

    @property
    def shift_started_ns(self) -> int | None:
        return self._test.shift_started_ns

    @property
    def shift_started_index(self) -> int | None:
        return self._test.shift_started_index

    @property
    def shift_detected_index(self) -> int | None:
        return self._test.shift_detected_index


class NumericLearner(_Learner):
    """A numeric signal: extract, transform, optionally condition, then ``BlockShift``."""

    __slots__ = ("_centers", "conditioned", "log_scale")

    _test: BlockShift

    def __init__(self, name: str, config: DetectionConfig, conditioned: bool = False,
                 log_scale: bool = True) -> None:
        self.name = name
        self.conditioned = conditioned
        self.log_scale = log_scale
        cfg = config.numeric
        effect = config.effect_for(name)
        sparse = name in cfg.sparse_signals
        self._test = BlockShift(
            block_size=cfg.sparse_block_size if sparse else cfg.block_size,
            recent_blocks=cfg.sparse_recent_blocks if sparse else cfg.recent_blocks,
            warmup_blocks=cfg.sparse_warmup_blocks if sparse else cfg.warmup_blocks,
            threshold=cfg.threshold,
            min_effect=math.log1p(effect) if log_scale else effect,
            baseline_entries=cfg.baseline_entries,
            entry_s=cfg.entry_s,
        )
        self._centers = (
            ConditionedCenter(BINS[name], cfg.bin_memory, cfg.bin_min_support)
            if conditioned else None
        )

    # -- contract ---------------------------------------------------------------------------

    def learn_one(self, call: LlmCall, index: int) -> int:
        # the per-call hot path (11 learners per call): lookups inlined
        seen = OBSERVERS[self.name](call)
        if seen is None:
            return NO_EVENT
        b, y = seen
        centers = self._centers
        test = self._test
        if centers is not None:
            r = centers.residual_then_learn(b, y, not test.shifted)
            if r is None:
                return NO_EVENT
            y = r
        return test.update(y, call.end_ns, index)

    def slowing_since(self, since_ns: int) -> bool:
        """Shifted slower, or its last block (begun after ``since_ns``) is already slower by
        twice the minimum effect: a quiet peer that has not had the calls to flag yet."""
        if self._test.shifted:
            return self.slowed
        latest = self._test.latest()
        if latest is None or latest[1] < since_ns:
            return False
        dev = -latest[0] if self.name == "decode_rate" else latest[0]
        return dev > 2 * self._test.min_effect

    @property
    def slowed(self) -> bool:
        """Shifted towards slower service (what load and incidents do to timing)."""
        direction = self._test.shift_direction
        return direction < 0 if self.name == "decode_rate" else direction > 0

    def summary(self) -> dict[str, Any]:
        raw = self._test.summary()
        out: dict[str, Any] = {"measure": _MEASURES[self.name]}
        before = raw["before"]["center"]
        if "after" in raw:
            after = raw["after"]["center"]
            out["relative_change"] = round(
                math.expm1(after - before) if self.log_scale
                else (after - before) / max(abs(before), 1e-9), 4)
        if self.log_scale and not self.conditioned:
            out["before"] = round(math.exp(before), 6)
            if "after" in raw:
                out["after"] = round(math.exp(raw["after"]["center"]), 6)
        else:
            out["before"] = round(before, 6)
            if "after" in raw:
                out["after"] = round(raw["after"]["center"], 6)
        return out

    def rebaseline(self) -> None:
        if self._centers is None:
            self._test.rebaseline()
            return
        # the conditioning centres move with the regime, the residuals return to ~0
        delta = self._test.shift_size()
        self._centers.move(delta)
        self._test.rebaseline(offset=-delta)


class CategoricalLearner(_Learner):
    """A categorical signal: the share of each value, via ``ShareShift``."""

    __slots__ = ()

    _test: ShareShift

    def __init__(self, name: str, config: DetectionConfig) -> None:
        self.name = name
        cfg = config.categorical
        min_tv = cfg.min_total_variation
        if name == "errors":
            # errors are rare: a few points of error rate is already a material change
            min_tv = config.min_relative_effect.get("errors", 0.03)
        self._test = ShareShift(
            block_size=cfg.block_size,
            recent_blocks=cfg.recent_blocks,
            warmup_calls=cfg.warmup_calls,
            half_life_blocks=cfg.half_life_blocks,
            min_total_variation=min_tv,
            threshold=cfg.threshold,
            new_value_share=cfg.new_value_share,
            new_value_min_count=cfg.new_value_min_count,
            max_values=cfg.max_values,
        )

    def learn_one(self, call: LlmCall, index: int) -> int:
        value = CATEGORIES[self.name](call)
        if value is None:
            return NO_EVENT
        return self._test.update(value, call.end_ns, index)

    def summary(self) -> dict[str, Any]:
        return {"measure": _MEASURES[self.name], **self._test.summary()}

    def rebaseline(self) -> None:
        self._test.rebaseline()


SignalLearner = NumericLearner | CategoricalLearner

_MEASURES = {
    "latency": "log duration vs. calls of similar size",
    "ttft": "log time to first chunk vs. calls of similar prompt size",
    "decode_rate": "log output tokens/s after first chunk vs. similar answer size",
    "output_tokens": "output tokens (median block)",
    "tokenizer": "input tokens per prompt character",
    "cost": "USD per weighted token (input + 4 × output)",
    "quality": "mean evaluation score",
    "model_share": "share of each served model",
    "fingerprint": "share of each system fingerprint",
    "finish_reason": "share of each finish reason",
    "errors": "share of errors by type",
}

_NUMERIC = {
    "latency": dict(conditioned=True),
    "ttft": dict(conditioned=True),
    "decode_rate": dict(conditioned=True),
    "output_tokens": {},
    "tokenizer": {},
    "cost": {},
    "quality": dict(log_scale=False),
}


def build_learners(config: DetectionConfig) -> list[SignalLearner]:
    """One learner per configured signal (``identity`` is not a learner: it is immediate)."""
    learners: list[SignalLearner] = []
    for name in config.signals:
        if name in _NUMERIC:
            learners.append(NumericLearner(name, config, **_NUMERIC[name]))  # type: ignore[arg-type]
        elif name in CATEGORIES:
            learners.append(CategoricalLearner(name, config))
    return learners
