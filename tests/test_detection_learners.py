"""Signal learners and their change-point cores: table-driven, one row per signal."""

from __future__ import annotations

import copy
import math
import pickle
import random
from collections.abc import Callable
from dataclasses import replace

import pytest
from swapwatch.detector.calls import LlmCall
from swapwatch.detector.detection.categorical import ShareShift, compare_shares
from swapwatch.detector.detection.config import SIGNAL_NAMES, DetectionConfig
from swapwatch.detector.detection.numeric import (
    SHIFTED,
    WITHDRAWN,
    BlockShift,
    change_point,
    interquartile_mean,
)
from swapwatch.detector.detection.observe import price_of
from swapwatch.detector.detection.signals import (
    CategoricalLearner,
    ConditionedCenter,
    NumericLearner,
    SignalLearner,
    build_learners,
)

T0 = 1_772_400_000 * 10**9


def base_call(rng: random.Random, i: int, prompt_scale: float = 1.0) -> LlmCall:
    """A gpt-4o call with heavy-tailed sizes; timing follows the sizes."""
    input_tokens = max(1, int(rng.lognormvariate(6.0, 0.8) * prompt_scale))
    output_tokens = max(8, int(rng.lognormvariate(5.0, 0.6)))
    ttft = (0.25 + input_tokens / 8000) * rng.lognormvariate(0.0, 0.2)
    rate = 60.0 * rng.lognormvariate(0.0, 0.15)
    start = T0 + i * 20 * 10**9
    return LlmCall(
        start_ns=start, end_ns=start + int((ttft + output_tokens / rate) * 1e9),
        service="api", surface="chat", provider="openai", request_model="gpt-4o",
        response_model="gpt-4o-2024-08-06", environment="prod",
        input_tokens=input_tokens, output_tokens=output_tokens, prompt_chars=input_tokens * 4,
        time_to_first_chunk_s=ttft, system_fingerprint="fp_a" if rng.random() < 0.8 else "fp_b",
        finish_reasons=("stop",) if rng.random() < 0.9 else ("length",),
        evaluations={"relevance": min(1.0, max(0.0, rng.gauss(0.8, 0.08)))},
    )


def slower_decode(call: LlmCall, rng: random.Random) -> LlmCall:
    ttft = call.time_to_first_chunk_s or 0.0
    decode = call.duration_s - ttft
    return replace(call, end_ns=call.start_ns + int((ttft + decode * 1.6) * 1e9))


def slower_ttft(call: LlmCall, rng: random.Random) -> LlmCall:
    ttft = call.time_to_first_chunk_s or 0.0
    return replace(call, time_to_first_chunk_s=ttft * 1.8, end_ns=call.end_ns + int(ttft * 0.8e9))


def shorter_answers(call: LlmCall, rng: random.Random) -> LlmCall:
    out = max(8, int((call.output_tokens or 8) * 0.6))
    ttft = call.time_to_first_chunk_s or 0.0
    rate = (call.decode_rate or 60.0)
    return replace(call, output_tokens=out, end_ns=call.start_ns + int((ttft + out / rate) * 1e9))


def other_tokenizer(call: LlmCall, rng: random.Random) -> LlmCall:
    return replace(call, input_tokens=int((call.input_tokens or 1) * 1.3) + 1)


def cheaper_model(call: LlmCall, rng: random.Random) -> LlmCall:
    return replace(call, response_model="gpt-4o-mini-2024-07-18")


def new_fingerprint(call: LlmCall, rng: random.Random) -> LlmCall:
    return replace(call, system_fingerprint="fp_new")


def tool_happy(call: LlmCall, rng: random.Random) -> LlmCall:
    return replace(call, finish_reasons=("tool_calls",) if rng.random() < 0.4 else ("stop",))


def failing(call: LlmCall, rng: random.Random) -> LlmCall:
    if rng.random() < 0.12:
        return replace(call, is_error=True, error_type="RateLimitError", output_tokens=None)
    return call


def worse_answers(call: LlmCall, rng: random.Random) -> LlmCall:
    return replace(call, evaluations={"relevance": rng.gauss(0.55, 0.08)})


def longer_prompts(call: LlmCall, rng: random.Random) -> LlmCall:
    """Traffic mix: prompts twice as long; prefill time grows with them, nothing else."""
    extra = call.input_tokens or 1
    ttft = (call.time_to_first_chunk_s or 0.0) + extra / 8000
    return replace(call, input_tokens=extra * 2, prompt_chars=extra * 8,
                   time_to_first_chunk_s=ttft, end_ns=call.end_ns + int(extra / 8000 * 1e9))


def unchanged(call: LlmCall, rng: random.Random) -> LlmCall:
    return call


Change = Callable[[LlmCall, random.Random], LlmCall]

# signal, change applied from call 1500 on, whether that learner must shift
CASES: list[tuple[str, Change, bool]] = [
    ("decode_rate", slower_decode, True),
    ("latency", slower_decode, True),
    ("ttft", slower_ttft, True),
    ("output_tokens", shorter_answers, True),
    ("tokenizer", other_tokenizer, True),
    ("cost", cheaper_model, True),
    ("model_share", cheaper_model, True),
    ("fingerprint", new_fingerprint, True),
    ("finish_reason", tool_happy, True),
    ("errors", failing, True),
    ("quality", worse_answers, True),
    # conditioning: longer prompts are not slower decoding, another tokenizer or dearer model
    ("latency", longer_prompts, False),
    ("ttft", longer_prompts, False),
    ("decode_rate", longer_prompts, False),
    ("tokenizer", longer_prompts, False),
    ("cost", longer_prompts, False),
    ("output_tokens", longer_prompts, False),
    # nothing changed: nothing fires
    *[(name, unchanged, False) for name in SIGNAL_NAMES if name != "identity"],
]

CHANGE_AT = 1500


def learner_for(name: str) -> SignalLearner:
    (learner,) = build_learners(DetectionConfig(signals=[name]))
    return learner


def feed(learner: SignalLearner, change: Change, seed: int = 3, n: int = 2300) -> list[int]:
    rng = random.Random(seed)
    events = []
    for i in range(n):
        call = base_call(rng, i)
        if i >= CHANGE_AT:
            call = change(call, rng)
        events.extend(learner.learn_many([call], i))
    return events


@pytest.mark.parametrize(("signal", "change", "must_shift"), CASES,
                         ids=[f"{s}-{c.__name__}" for s, c, _ in CASES])
def test_learner_shifts_only_on_its_change(signal: str, change: Change, must_shift: bool) -> None:
    learner = learner_for(signal)
    events = feed(learner, change)
    assert (SHIFTED in events) is must_shift, learner.summary()
    if must_shift:
        assert learner.shifted
        # the estimated change point is near the real one, in calls and in event time
        assert abs((learner.shift_started_index or 0) - CHANGE_AT) <= 200
        assert learner.shift_started_ns is not None
        summary = learner.summary()
        assert "before" in summary and "after" in summary


@pytest.mark.parametrize("signal", ["decode_rate", "output_tokens", "fingerprint", "cost"])
def test_rebaseline_adopts_the_new_regime(signal: str) -> None:
    change = {"decode_rate": slower_decode, "output_tokens": shorter_answers,
              "fingerprint": new_fingerprint, "cost": cheaper_model}[signal]
    learner = learner_for(signal)
    rng = random.Random(5)
    for i in range(4000):
        call = base_call(rng, i)
        if i >= CHANGE_AT:
            call = change(call, rng)
        learner.learn_many([call], i)
        if learner.shifted:
            learner.rebaseline()
            assert not learner.shifted
            rebaselined_at = i
    # after adopting the new regime, the rest of the (changed) stream is normal
    assert CHANGE_AT <= rebaselined_at < CHANGE_AT + 700


def test_transient_shift_is_withdrawn_and_not_learned() -> None:
    test = BlockShift(block_size=8, recent_blocks=4, warmup_blocks=8, min_effect=0.1, entry_s=0)
    rng = random.Random(1)
    events = []
    for i in range(1200):
        level = 1.0 if 600 <= i < 700 else 0.0  # a 100-call excursion
        events.append(test.update(rng.gauss(level, 0.2), t_ns=i, index=i))
    assert SHIFTED in events and WITHDRAWN in events
    assert not test.shifted
    assert abs(test.summary()["before"]["center"]) < 0.1  # the baseline never took it in


def test_learners_pickle_and_copy_midstream() -> None:
    rng = random.Random(2)
    learners = build_learners(DetectionConfig())
    calls = [base_call(rng, i) for i in range(600)]
    for learner in learners:
        learner.learn_many(calls[:400], 0)
    clones = [pickle.loads(pickle.dumps(lr)) for lr in learners]
    copies = [copy.deepcopy(lr) for lr in learners]
    for original, clone, duplicate in zip(learners, clones, copies, strict=True):
        later = calls[400:]
        assert original.learn_many(later, 400) == clone.learn_many(later, 400) \
            == duplicate.learn_many(later, 400)
        assert original.summary() == clone.summary() == duplicate.summary()


def test_one_learner_per_signal_except_identity() -> None:
    names = [lr.name for lr in build_learners(DetectionConfig())]
    assert sorted(names) == sorted(n for n in SIGNAL_NAMES if n != "identity")
    kinds = {lr.name: type(lr) for lr in build_learners(DetectionConfig())}
    assert kinds["model_share"] is CategoricalLearner and kinds["latency"] is NumericLearner


@pytest.mark.parametrize(("values", "expected"), [
    ([1.0], 1.0),
    ([1.0, 2.0, 3.0], 2.0),
    ([1.0, 2.0, 3.0, 100.0], 2.5),
    ([-50.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 1e9], 3.5),
])
def test_interquartile_mean_ignores_the_tails(values: list[float], expected: float) -> None:
    assert interquartile_mean(values) == pytest.approx(expected)


@pytest.mark.parametrize(("devs", "direction", "expected"), [
    ([0.0, 0.0, 0.0, 1.0, 1.0], 1, 3),
    ([1.0, 1.0, 1.0, 1.0], 1, 0),
    ([0.1, -0.1, -1.0, -1.2, -0.9], -1, 2),
    ([0.0, 0.0, 0.0, 0.0, 2.0], 1, 4),
])
def test_change_point_estimate(devs: list[float], direction: int, expected: int) -> None:
    assert change_point(devs, direction) == expected


@pytest.mark.parametrize(("base", "recent", "min_tv", "max_tv", "significant"), [
    ({"a": 900, "b": 100}, {"a": 90, "b": 10}, 0.0, 0.001, False),
    ({"a": 900, "b": 100}, {"a": 50, "b": 50}, 0.39, 0.41, True),
    ({"a": 1000}, {"a": 60, "c": 40}, 0.39, 0.41, True),
    ({"a": 900, "b": 100}, {"a": 8, "b": 2}, 0.09, 0.11, False),  # too few calls to tell
])
def test_compare_shares(base: dict[str, float], recent: dict[str, float], min_tv: float,
                        max_tv: float, significant: bool) -> None:
    tv, z, _ = compare_shares(base, sum(base.values()), recent, sum(recent.values()))
    assert min_tv <= tv <= max_tv
    assert (z >= 5.0) is significant


@pytest.mark.parametrize(("share", "fires"), [(0.0, False), (0.02, False), (0.10, True)])
def test_never_seen_value_needs_a_material_share(share: float, fires: bool) -> None:
    test = ShareShift(block_size=32, recent_blocks=4, warmup_calls=256)
    rng = random.Random(4)
    events = []
    for i in range(3000):
        value = "fp_new" if i > 1500 and rng.random() < share else "fp_a"
        events.append(test.update(value, t_ns=i, index=i))
    assert (SHIFTED in events) is fires


def test_share_window_stays_exact_while_many_values_come_and_go() -> None:
    """The blocks under test keep value codes; codes no block holds are forgotten (more than
    64 values pass through here), and the window still counts exactly the last blocks."""
    test = ShareShift(block_size=8, recent_blocks=4, warmup_calls=10**9)
    values = [f"fp_{i % 300}" for i in range(4000)]
    for i, value in enumerate(values):
        test.update(value, t_ns=i, index=i)
    counts, n = test._window()
    last = values[4000 - 4 * 8:]
    assert n == 32
    assert counts == {v: last.count(v) for v in set(last)}
    assert len(test._values) <= 64 + 8


def test_share_rebaseline_keeps_the_block_being_filled() -> None:
    test = ShareShift(block_size=8, recent_blocks=2, warmup_calls=10**9)
    for i in range(16):
        test.update("a", t_ns=i, index=i)
    for i in range(16, 21):
        test.update("b", t_ns=i, index=i)
    test.rebaseline()
    for i in range(21, 24):
        test.update("c", t_ns=i, index=i)
    assert test._blocks() == [{"b": 5, "c": 3}]


def test_conditioned_center_needs_support_and_moves_with_the_regime() -> None:
    centers = ConditionedCenter(bins=3, memory=100, min_support=3)
    for y in (1.0, 2.0):
        centers.learn(0, y)
    assert centers.residual(0, 5.0) is None
    centers.learn(0, 3.0)
    assert centers.residual(0, 5.0) == pytest.approx(3.0)
    centers.move(1.0)
    assert centers.residual(0, 5.0) == pytest.approx(2.0)


def test_cost_uses_the_catalog_price_of_the_served_model() -> None:
    call = LlmCall(start_ns=T0, end_ns=T0 + 10**9, provider="openai", request_model="gpt-4o",
                   response_model="gpt-4o-2024-08-06", input_tokens=1000, output_tokens=200)
    big = price_of(call)
    small = price_of(replace(call, response_model="gpt-4o-mini-2024-07-18"))
    assert big is not None and small is not None
    assert big == pytest.approx(0.0045, rel=1e-6)
    assert small < big / 10
    assert price_of(replace(call, response_model="no-such-model-x")) is None


def test_learners_skip_calls_without_their_value() -> None:
    bare = LlmCall(start_ns=T0, end_ns=T0 + 10**9)
    for learner in build_learners(DetectionConfig()):
        # only the error share reads a bare call (as "ok"); nothing raises
        assert learner.learn_many([bare], 0) == []
    assert math.isfinite(T0)
