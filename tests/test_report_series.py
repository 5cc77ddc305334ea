"""The report's data model: signal time series per key and the daily model share (pure)."""

from __future__ import annotations

import random
import statistics

import pytest
from swapwatch.detector.calls import LlmCall
from swapwatch.detector.detection.keys import SeriesKey
from swapwatch.detector.report.config import ReportConfig
from swapwatch.detector.report.model_share import DailyModelShare, format_model_share
from swapwatch.detector.report.series import OTHER, SignalSeries, points_merge

HOUR_NS = 3600 * 10**9
DAY_NS = 24 * HOUR_NS
T0 = 20_514 * DAY_NS  # 2026-03-02T00:00:00Z


def make_call(t_ns: int, *, surface: str = "chat", served: str | None = "gpt-4o",
              duration_s: float = 2.0, ttft_s: float | None = 0.4, output_tokens: int = 200,
              fingerprint: str | None = "fp_a", finish: tuple[str, ...] = ("stop",),
              cost: float | None = 0.01, error: bool = False, prompt_chars: int = 400,
              input_tokens: int = 100, request_model: str = "gpt-4o",
              provider: str = "openai") -> LlmCall:
    return LlmCall(start_ns=t_ns - int(duration_s * 1e9), end_ns=t_ns, service="api",
                   surface=surface, provider=provider, request_model=request_model,
                   environment="prod", response_model=served, output_tokens=output_tokens,
                   time_to_first_chunk_s=ttft_s, system_fingerprint=fingerprint,
                   finish_reasons=finish, cost_usd=cost, is_error=error,
                   prompt_chars=prompt_chars, input_tokens=input_tokens)


@pytest.mark.parametrize(
    ("calls", "buckets", "min_calls", "expected"),
    [
        (10_000, 200, 12, 1),  # busy: every bucket is a point
        (2_400, 200, 12, 1),  # exactly enough
        (2_399, 200, 12, 2),
        (250, 200, 12, 16),
        (0, 200, 12, 16),  # never fewer than 8 points
        (0, 8, 12, 1),  # already only 8 buckets
        (100, 1, 12, 1),
    ],
)
def test_points_merge(calls: int, buckets: int, min_calls: int, expected: int) -> None:
    assert points_merge(calls, buckets, min_calls) == expected


def test_medians_ratios_and_shares_per_bucket() -> None:
    series = SignalSeries(ReportConfig(base_bucket_s=3600, min_calls_per_point=1))
    rng = random.Random(3)
    durations = [rng.uniform(1.0, 5.0) for _ in range(101)]
    for i, d in enumerate(durations):  # hour 0: the big model
        series.observe(make_call(T0 + i * 10**9, duration_s=d, fingerprint="fp_a"))
    for i in range(50):  # hour 1: a third of the calls served by another model, errors
        series.observe(make_call(T0 + HOUR_NS + i * 10**9,
                                 served="gpt-4o-mini" if i % 3 == 0 else "gpt-4o",
                                 fingerprint="fp_b", error=i % 10 == 0, cost=0.002,
                                 finish=("length",) if i % 5 == 0 else ("stop",)))
    (key,) = series.keys()
    chart = series.key_series(key)
    assert chart.times_ms == [T0 // 10**6, (T0 + HOUR_NS) // 10**6]
    assert chart.calls == [101, 50]
    exact = statistics.median(durations) * 1000
    assert abs(chart.values["latency"][0] - exact) / exact < 0.026  # 5% log bins
    assert chart.values["ttft"][0] == pytest.approx(400, rel=0.026)
    assert chart.values["output_tokens"] == [pytest.approx(200, rel=0.026)] * 2
    assert chart.values["tokenizer"] == [0.25, 0.25]
    assert chart.values["cost"] == [0.01, 0.002]
    assert chart.values["errors"] == [0.0, 0.1]
    assert chart.values["quality"] == [None, None]  # nothing evaluated: a gap, not a zero
    served = chart.shares["served_model"]
    assert list(served) == ["gpt-4o", "gpt-4o-mini"]  # commonest first
    assert served["gpt-4o-mini"] == [0.0, 0.34]
    assert chart.shares["fingerprint"] == {"fp_a": [1.0, 0.0], "fp_b": [0.0, 1.0]}
    assert chart.shares["finish_reason"]["length"] == [0.0, 0.2]


def test_buckets_widen_without_losing_calls_and_stay_bounded() -> None:
    config = ReportConfig(base_bucket_s=60, max_points=24, min_calls_per_point=1)
    series = SignalSeries(config)
    rng = random.Random(5)
    times = [T0 + rng.randrange(0, 30 * DAY_NS) for _ in range(3000)]
    for t in times:  # a month, out of order
        series.observe(make_call(t))
    chart = series.key_series(series.keys()[0])
    assert len(chart.times_ms) <= 24
    assert sum(chart.calls) == 3000
    assert chart.width_s >= 30 * 86_400 // 24
    assert chart.width_s % 60 == 0  # a power-of-two multiple of the base width
    # every call is in the bucket its time falls into
    width_ms = chart.width_s * 1000
    for t in times[:50]:
        i = (t // 10**6 - chart.times_ms[0]) // width_ms
        assert chart.calls[i] > 0


def test_quiet_key_gets_fewer_wider_points_than_a_busy_one() -> None:
    series = SignalSeries(ReportConfig(base_bucket_s=600, min_calls_per_point=12))
    for i in range(2 * 24 * 6 * 20):  # busy: 20 calls per 10 minutes for two days
        series.observe(make_call(T0 + i * 30 * 10**9, surface="busy"))
    for i in range(60):  # quiet: 60 calls over the same two days
        series.observe(make_call(T0 + i * 48 * 60 * 10**9, surface="quiet"))
    keys = series.keys()  # by slug: busy, then quiet
    busy, quiet = (series.key_series(k) for k in keys)
    assert busy.key is not None and busy.key.surface == "busy"
    assert quiet.width_s > busy.width_s
    assert len(quiet.times_ms) >= 8
    assert sum(quiet.calls) == 60


def test_keys_and_names_are_bounded() -> None:
    series = SignalSeries(ReportConfig(max_keys=2, max_values=2, min_calls_per_point=1))
    for surface in ("a", "b", "c"):
        series.observe(make_call(T0, surface=surface))
    kept = series.keys()
    assert [k.surface for k in kept] == ["a", "b"]
    assert series.dropped_calls == 1
    for i in range(20):  # 20 fingerprints: 8 tracked (4 × max_values), shown: 2 + (other)
        for _ in range(20 - i):
            series.observe(make_call(T0 + i, surface="a", fingerprint=f"fp_{i:02d}"))
    chart = series.key_series(SeriesKey("api", "a", "openai", "gpt-4o", "prod"))
    shares = chart.shares["fingerprint"]
    assert list(shares) == ["fp_00", "fp_01", OTHER]
    assert sum(v[0] or 0 for v in shares.values()) == pytest.approx(1.0, abs=1e-3)


def test_surface_series_adds_up_its_keys() -> None:
    series = SignalSeries(ReportConfig(min_calls_per_point=1))
    for i in range(30):
        series.observe(make_call(T0 + i * 10**9, served="gpt-4o"))
        series.observe(make_call(T0 + i * 10**9, served="gpt-4o-mini",
                                 request_model="gpt-4o-mini"))
    surface = series.surface_series("chat")
    assert surface.key is None and surface.surface == "chat"
    assert surface.calls[0] == 60
    assert {name: v[0] for name, v in surface.shares["served_model"].items()} == {
        "gpt-4o": 0.5, "gpt-4o-mini": 0.5}


# -- daily model share -----------------------------------------------------------------------


def test_daily_model_share_is_a_share_per_surface_per_utc_day() -> None:
    shares = DailyModelShare()
    rng = random.Random(1)
    for day in range(3):
        mini_share = [0.0, 0.25, 0.5][day]
        for i in range(400):
            t = T0 + day * DAY_NS + i * 200 * 10**9
            served = "gpt-4o-mini" if rng.random() < mini_share else "gpt-4o"
            shares.observe(make_call(t, served=served))
            shares.observe(make_call(t, surface="search", served=None))
    chat = shares.days("chat")
    assert [d.day for d in chat] == ["2026-03-02", "2026-03-03", "2026-03-04"]
    assert all(d.calls == 400 for d in chat)
    for d in chat:
        assert sum(d.shares.values()) == pytest.approx(1.0, abs=1e-3)
    assert chat[0].shares == {"gpt-4o": 1.0}
    assert chat[2].shares["gpt-4o-mini"] == pytest.approx(0.5, abs=0.07)
    assert [d.shares for d in shares.days("search")] == [{"(not reported)": 1.0}] * 3
    text = format_model_share(shares)
    assert "surface chat: served-model share per UTC day" in text
    row = next(line for line in text.splitlines() if line.startswith("2026-03-04"))
    cells = row.split()
    assert cells[1] == "400"
    assert sum(float(c.rstrip("%")) for c in cells[2:]) == pytest.approx(100.0, abs=0.2)


def test_daily_model_share_keeps_the_newest_days() -> None:
    shares = DailyModelShare(ReportConfig(max_days=2))
    for day in (0, 1, 2, 0):  # the late call of day 0 is older than everything kept
        shares.observe(make_call(T0 + day * DAY_NS + 10**9))
    assert [d.day for d in shares.days("chat")] == ["2026-03-03", "2026-03-04"]
    assert (shares.dropped_days, shares.dropped_calls) == (1, 1)
    assert "1 older day(s) dropped" in format_model_share(shares)
