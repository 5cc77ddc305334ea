"""Property tests: stationary streams do not fire, whatever their scale, tails or mix."""

from __future__ import annotations

import math
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from swapwatch.detector.calls import LlmCall
from swapwatch.detector.detection.categorical import ShareShift
from swapwatch.detector.detection.config import DetectionConfig
from swapwatch.detector.detection.engine import Detector
from swapwatch.detector.detection.numeric import SHIFTED, BlockShift

PROPERTY = settings(max_examples=30, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(
    seed=st.integers(0, 2**32 - 1),
    location=st.floats(-5, 5),
    spread=st.floats(0.05, 1.5),
    tail=st.sampled_from(["normal", "laplace", "student3"]),
)
def test_numeric_core_is_quiet_on_stationary_streams(seed: int, location: float, spread: float,
                                                     tail: str) -> None:
    rng = random.Random(seed)
    test = BlockShift(min_effect=math.log1p(0.1), entry_s=600.0)

    def draw() -> float:
        if tail == "normal":
            return rng.gauss(location, spread)
        if tail == "laplace":
            return location + spread * (rng.expovariate(1) - rng.expovariate(1))
        # Student t with 3 degrees of freedom: heavy tails
        z = rng.gauss(0, 1)
        chi = sum(rng.gauss(0, 1) ** 2 for _ in range(3))
        return location + spread * z / math.sqrt(chi / 3)

    t = 0
    for i in range(4000):
        t += int(rng.expovariate(1 / 30.0) * 1e9)
        assert test.update(draw(), t_ns=t, index=i) != SHIFTED, (i, test.summary())


@PROPERTY
@given(
    seed=st.integers(0, 2**32 - 1),
    weights=st.lists(st.floats(0.01, 1.0), min_size=1, max_size=6),
)
def test_share_core_is_quiet_on_a_stationary_mix(seed: int, weights: list[float]) -> None:
    rng = random.Random(seed)
    values = [f"v{i}" for i in range(len(weights))]
    test = ShareShift()
    for i in range(6000):
        value = rng.choices(values, weights)[0]
        assert test.update(value, t_ns=i, index=i) != SHIFTED, (i, test.summary())


@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), every_s=st.sampled_from([5.0, 30.0, 120.0]),
       daily_swing=st.floats(0.0, 0.12))
def test_engine_raises_nothing_on_stationary_traffic(seed: int, every_s: float,
                                                     daily_swing: float) -> None:
    """A key with a daily load cycle (timing ±swing) and heavy-tailed sizes: no alert."""
    rng = random.Random(seed)
    detector = Detector(DetectionConfig())
    t = 1_772_400_000 * 10**9
    calls = []
    for _ in range(6000):
        t += int(rng.expovariate(1 / every_s) * 1e9)
        load = 1 + daily_swing * math.sin(2 * math.pi * (t / 1e9) / 86400)
        input_tokens = max(1, int(rng.lognormvariate(6.5, 1.0)))
        output_tokens = max(2, int(rng.lognormvariate(5.0, 0.9)))
        ttft = (0.3 + input_tokens / 10000) * load * rng.lognormvariate(0, 0.3)
        rate = 50 / load * rng.lognormvariate(0, 0.2)
        calls.append(LlmCall(
            start_ns=t, end_ns=t + int((ttft + output_tokens / rate) * 1e9), service="s",
            surface="x", provider="openai", request_model="gpt-4o",
            response_model="gpt-4o-2024-08-06", environment="prod", input_tokens=input_tokens,
            output_tokens=output_tokens, prompt_chars=int(input_tokens * 3.9),
            time_to_first_chunk_s=ttft, system_fingerprint=rng.choice(["fp_1", "fp_2"]),
            finish_reasons=(rng.choices(["stop", "length", "tool_calls"], [8, 1, 1])[0],),
            is_error=rng.random() < 0.01,
        ))
    alerts = []
    for call in sorted(calls, key=lambda c: c.end_ns):
        alerts.extend(detector.process(call))
    alerts.extend(detector.flush())
    assert alerts == []
