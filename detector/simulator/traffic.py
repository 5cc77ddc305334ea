"""When requests arrive and how big they are: the Azure traces, time-scaled and looped.

A key's arrivals follow the real per-second arrival counts of an Azure LLM trace (bursts and
silent minutes included), stretched ``stretch`` times and looped from a random offset, thinned
to the key's daily rate and modulated by a daily cycle (peak at the key's ``peak_hour``) and
quieter weekends. Prompt and output lengths are drawn from the same trace's tables, output
conditioned on the prompt's size.

>>> import numpy as np
>>> from swapwatch.detector.simulator.profiles import load_catalog
>>> shape = load_catalog().traffic["azure-conv"]
>>> times = arrivals(shape, rate_per_day=1000, start_s=0.0, end_s=7 * 86400.0,
...                  rng=np.random.default_rng(3))
>>> 5000 < len(times) < 8000, bool(np.all(np.diff(times) >= 0))
(True, True)
"""

from __future__ import annotations

import math

import numpy as np
from swapwatch.detector.simulator.profiles import TrafficShape

DAY_S = 86400.0


def daily_cycle(t_s: np.ndarray | float, peak_hour: float, amplitude: float) -> np.ndarray:
    """1 + amplitude·cos(2π(hour − peak)/24): mean 1 over a day."""
    hours = (np.asarray(t_s, dtype=float) % DAY_S) / 3600.0
    return 1.0 + amplitude * np.cos(2.0 * math.pi * (hours - peak_hour) / 24.0)


def provider_load(t_s: float, peak_hour: float) -> float:
    """A provider's load in [0, 1]: 1 at its peak hour, 0 twelve hours later.

    >>> provider_load(17 * 3600.0, 17.0), round(provider_load(5 * 3600.0, 17.0), 6)
    (1.0, 0.0)
    """
    hours = (t_s % DAY_S) / 3600.0
    return 0.5 * (1.0 + math.cos(2.0 * math.pi * (hours - peak_hour) / 24.0))


def weekly_factor(t_s: np.ndarray, weekend: float) -> np.ndarray:
    """``weekend`` on Saturdays and Sundays, 1 otherwise (unix time: day 0 was a Thursday)."""
    weekday = ((np.asarray(t_s, dtype=float) // DAY_S).astype(np.int64) + 3) % 7  # Monday = 0
    return np.where(weekday >= 5, weekend, 1.0)


def arrivals(
    shape: TrafficShape,
    rate_per_day: float,
    start_s: float,
    end_s: float,
    rng: np.random.Generator,
    *,
    stretch: float = 4.0,
    peak_hour: float = 15.0,
    amplitude: float = 0.5,
    weekend: float = 0.7,
) -> np.ndarray:
    """Sorted arrival times (unix seconds) in ``[start_s, end_s)``.

    Each stretched trace second is one bin; its expected count is the trace's count there,
    scaled to ``rate_per_day`` (a weekday's mean) and by the daily and weekly factors; the
    count is Poisson and the arrivals fall uniformly inside the bin.
    """
    counts = np.asarray(shape.arrivals_per_second, dtype=float)
    n_bins = max(1, math.ceil((end_s - start_s) / stretch))
    offset = int(rng.integers(0, len(counts)))
    index = (offset + np.arange(n_bins)) % len(counts)
    bin_start = start_s + np.arange(n_bins) * stretch
    per_bin = rate_per_day / DAY_S * stretch / shape.mean_rate_per_s
    expected = (
        counts[index] * per_bin
        * daily_cycle(bin_start + stretch / 2, peak_hour, amplitude)
        * weekly_factor(bin_start, weekend)
    )
    drawn = rng.poisson(expected)
    times = np.repeat(bin_start, drawn) + rng.random(int(drawn.sum())) * stretch
    times.sort()
    return times[times < end_s]
