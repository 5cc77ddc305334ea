"""``SignalSeries``: per series key, each signal's value over time, in bounded time buckets.

The report's charts are made from this. Calls are counted into buckets of event time; when the
span of the input would need more than ``max_points`` buckets, every bucket doubles in width
(pairs merge), so a month costs the same as a day. Each bucket keeps, per key:

* medians of ``latency`` and ``ttft`` (ms), ``decode_rate`` (tokens/s) and ``output_tokens``,
  from log-scale histograms (5% bins, the regime ledger's :func:`log_code`): exact to ±2.5%
  and mergeable, so widening never loses anything;
* ``tokenizer`` (input tokens per prompt character, a ratio of sums), ``cost`` (USD per call
  that reported one), ``errors`` (share of calls that failed), ``quality`` (mean evaluation
  score);
* counts of served models, system fingerprints and finish reasons, whose shares the report
  stacks. A key tracks at most ``4 × max_values`` names per category (later ones count as
  ``(other)``); the charts show the ``max_values`` commonest.

>>> from swapwatch.detector.calls import LlmCall
>>> series = SignalSeries(ReportConfig(base_bucket_s=3600))
>>> for i in range(6):  # two hours; the second one served by a smaller model
...     small = i >= 3
...     series.observe(LlmCall(start_ns=i * 1200 * 10**9, end_ns=(i * 1200 + 2) * 10**9,
...                    service="api", surface="chat", provider="openai", request_model="gpt-4o",
...                    response_model="gpt-4o-mini" if small else "gpt-4o",
...                    output_tokens=100 if small else 200))
>>> (key,) = series.keys()
>>> chart = series.key_series(key)
>>> chart.times_ms, chart.calls
([0, 3600000], [3, 3])
>>> chart.values["latency"]  # medians, ±2.5%
[2049.0, 2049.0]
>>> chart.shares["served_model"]
{'gpt-4o': [1.0, 0.0], 'gpt-4o-mini': [0.0, 1.0]}
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from swapwatch.detector.calls import LlmCall
from swapwatch.detector.detection.keys import SeriesKey
from swapwatch.detector.detection.logcodes import code_value, log_code, median_code
from swapwatch.detector.report.config import ReportConfig

OTHER = "(other)"
NOT_REPORTED = "(not reported)"
# signals charted as a median of a log-scale histogram, and the unit each is kept in
MEDIAN_SIGNALS: tuple[str, ...] = ("latency", "ttft", "decode_rate", "output_tokens")
RATIO_SIGNALS: tuple[str, ...] = ("tokenizer", "cost", "errors", "quality")
CATEGORIES: tuple[str, ...] = ("served_model", "fingerprint", "finish_reason")
_NS = 10**9


class _Bucket:
    """Everything one key keeps for one time bucket; merges exactly with another."""

    __slots__ = ("calls", "categories", "cost_n", "cost_sum", "errors", "histograms",
                 "prompt_chars", "prompt_tokens", "quality_n", "quality_sum")

    def __init__(self) -> None:
        self.calls = 0
        self.errors = 0
        self.cost_sum = 0.0
        self.cost_n = 0
        self.prompt_tokens = 0
        self.prompt_chars = 0
        self.quality_sum = 0.0
        self.quality_n = 0
        self.histograms: tuple[dict[int, int], ...] = tuple({} for _ in MEDIAN_SIGNALS)
        self.categories: tuple[dict[str, int], ...] = tuple({} for _ in CATEGORIES)

    def merge(self, other: _Bucket) -> None:
        self.calls += other.calls
        self.errors += other.errors
        self.cost_sum += other.cost_sum
        self.cost_n += other.cost_n
        self.prompt_tokens += other.prompt_tokens
        self.prompt_chars += other.prompt_chars
        self.quality_sum += other.quality_sum
        self.quality_n += other.quality_n
        for mine, theirs in zip(self.histograms, other.histograms, strict=True):
            for code, n in theirs.items():
                mine[code] = mine.get(code, 0) + n
        for named, their_named in zip(self.categories, other.categories, strict=True):
            for name, n in their_named.items():
                named[name] = named.get(name, 0) + n

    def median(self, i: int) -> float | None:
        histogram = self.histograms[i]
        if not histogram:
            return None
        dense = [0] * 256
        for code, n in histogram.items():
            dense[code] = n
        middle = median_code(dense)
        return None if middle is None else code_value(middle)

    def ratio(self, name: str) -> float | None:
        if name == "tokenizer":
            return self.prompt_tokens / self.prompt_chars if self.prompt_chars else None
        if name == "cost":
            return self.cost_sum / self.cost_n if self.cost_n else None
        if name == "errors":
            return self.errors / self.calls if self.calls else None
        return self.quality_sum / self.quality_n if self.quality_n else None


@dataclass
class _KeyBuckets:
    buckets: dict[int, _Bucket] = field(default_factory=dict)
    names: tuple[dict[str, int], ...] = field(
        default_factory=lambda: tuple({} for _ in CATEGORIES))  # name -> total count


@dataclass(frozen=True)
class KeySeries:
    """One key's (or one surface's) charts: bucket start times and a value per bucket.

    ``values[signal]`` has ``None`` where the bucket had nothing to measure (a gap, not a
    zero); ``shares[category][name]`` is the share of that name among the bucket's calls that
    reported the category (``None`` in an empty bucket), commonest names first.
    """

    key: SeriesKey | None
    surface: str | None
    width_s: int
    times_ms: list[int]
    calls: list[int]
    values: dict[str, list[float | None]]
    shares: dict[str, dict[str, list[float | None]]]


class SignalSeries:
    """The report's time series, built one call at a time (see the module docstring)."""

    def __init__(self, config: ReportConfig | None = None) -> None:
        self.config = config or ReportConfig()
        self._keys: dict[SeriesKey, _KeyBuckets] = {}
        self._width_ns = self.config.base_bucket_s * _NS
        self._lo: int | None = None  # lowest and highest bucket ids seen
        self._hi: int | None = None
        self.calls = 0
        self.dropped_calls = 0  # calls of keys beyond max_keys
        self.first_ns: int | None = None
        self.last_ns: int | None = None

    @property
    def width_s(self) -> int:
        return self._width_ns // _NS

    def observe(self, call: LlmCall) -> None:
        """Count one call (any order; a late call may widen the buckets)."""
        key = SeriesKey.of(call)
        book = self._keys.get(key)
        if book is None:
            if len(self._keys) >= self.config.max_keys:
                self.dropped_calls += 1
                return
            book = self._keys[key] = _KeyBuckets()
        self.calls += 1
        t = call.end_ns
        self.first_ns = t if self.first_ns is None else min(self.first_ns, t)
        self.last_ns = t if self.last_ns is None else max(self.last_ns, t)
        bucket_id = t // self._width_ns
        bucket = book.buckets.get(bucket_id)
        if bucket is None:
            bucket = book.buckets[bucket_id] = _Bucket()
            self._extend(bucket_id)
            bucket_id = t // self._width_ns  # the buckets may just have widened
            bucket = book.buckets[bucket_id]
        self._count(book, bucket, call)

    def observe_many(self, calls: Iterable[LlmCall]) -> None:
        for call in calls:
            self.observe(call)

    def keys(self) -> list[SeriesKey]:
        """Keys with calls, in a stable order (by slug)."""
        return sorted(self._keys, key=SeriesKey.slug)

    def surfaces(self) -> list[str | None]:
        return sorted({k.surface for k in self._keys}, key=lambda s: s or "")

    def key_series(self, key: SeriesKey) -> KeySeries:
        book = self._keys[key]
        return self._series(key, key.surface, [book])

    def surface_series(self, surface: str | None) -> KeySeries:
        """All keys of one surface together: the served-model share of the surface."""
        books = [b for k, b in self._keys.items() if k.surface == surface]
        return self._series(None, surface, books)

    # -- internals ------------------------------------------------------------------------------

    def _extend(self, bucket_id: int) -> None:
        lo = bucket_id if self._lo is None else min(self._lo, bucket_id)
        hi = bucket_id if self._hi is None else max(self._hi, bucket_id)
        while hi - lo + 1 > self.config.max_points:
            self._width_ns *= 2
            lo, hi = lo // 2, hi // 2
            for book in self._keys.values():
                merged: dict[int, _Bucket] = {}
                for old_id, bucket in book.buckets.items():
                    found = merged.get(old_id // 2)
                    if found is None:
                        merged[old_id // 2] = bucket
                    else:
                        found.merge(bucket)
                book.buckets = merged
        self._lo, self._hi = lo, hi

    def _count(self, book: _KeyBuckets, bucket: _Bucket, call: LlmCall) -> None:
        bucket.calls += 1
        if call.is_error:
            bucket.errors += 1
        if call.cost_usd is not None:
            bucket.cost_sum += call.cost_usd
            bucket.cost_n += 1
        if call.input_tokens and call.prompt_chars:
            bucket.prompt_tokens += call.input_tokens
            bucket.prompt_chars += call.prompt_chars
        if call.evaluations:
            bucket.quality_sum += sum(call.evaluations.values()) / len(call.evaluations)
            bucket.quality_n += 1
        ttft = call.time_to_first_chunk_s
        measured = (call.duration_s * 1000 if call.duration_s > 0 else None,
                    None if ttft is None or ttft <= 0 else ttft * 1000,
                    call.decode_rate, call.output_tokens or None)
        for histogram, value in zip(bucket.histograms, measured, strict=True):
            if value is not None:
                code = log_code(value)
                histogram[code] = histogram.get(code, 0) + 1
        served = call.response_model or NOT_REPORTED
        self._name(book, bucket, 0, served)
        if call.system_fingerprint:
            self._name(book, bucket, 1, call.system_fingerprint)
        for reason in call.finish_reasons or ():
            self._name(book, bucket, 2, reason)

    def _name(self, book: _KeyBuckets, bucket: _Bucket, category: int, name: str) -> None:
        totals = book.names[category]
        if name not in totals and len(totals) >= 4 * self.config.max_values:
            name = OTHER
        totals[name] = totals.get(name, 0) + 1
        counts = bucket.categories[category]
        counts[name] = counts.get(name, 0) + 1

    def _series(self, key: SeriesKey | None, surface: str | None,
                books: list[_KeyBuckets]) -> KeySeries:
        lo, hi = self._lo or 0, self._hi or 0
        calls = sum(b.calls for book in books for b in book.buckets.values())
        merge = points_merge(calls, hi - lo + 1, self.config.min_calls_per_point)
        lo, hi = lo // merge, hi // merge
        width_ms = self._width_ns * merge // 1_000_000
        ids = range(lo, hi + 1)
        buckets = [_Bucket() for _ in ids]
        for book in books:
            for bucket_id, found in book.buckets.items():
                buckets[bucket_id // merge - lo].merge(found)
        values: dict[str, list[float | None]] = {}
        for i, name in enumerate(MEDIAN_SIGNALS):
            values[name] = [_round(b.median(i)) for b in buckets]
        for name in RATIO_SIGNALS:
            values[name] = [_round(b.ratio(name)) for b in buckets]
        shares: dict[str, dict[str, list[float | None]]] = {}
        for c, category in enumerate(CATEGORIES):
            totals: dict[str, int] = {}
            for book in books:
                for name, n in book.names[c].items():
                    totals[name] = totals.get(name, 0) + n
            shown = _top_names(totals, self.config.max_values)
            shares[category] = _shares([b.categories[c] for b in buckets], shown)
        return KeySeries(key=key, surface=surface, width_s=self.width_s * merge,
                         times_ms=[i * width_ms for i in ids], calls=[b.calls for b in buckets],
                         values=values, shares=shares)


def points_merge(calls: int, buckets: int, min_calls_per_point: int) -> int:
    """How many buckets to merge per chart point so that a point has enough calls for a
    median, keeping at least 8 points (a power of two: merged buckets stay aligned).

    >>> points_merge(calls=10_000, buckets=200, min_calls_per_point=12)  # busy: full detail
    1
    >>> points_merge(calls=250, buckets=200, min_calls_per_point=12)  # quiet: 13 points
    16
    >>> points_merge(calls=3, buckets=200, min_calls_per_point=12)  # never fewer than 8 points
    16
    """
    merge = 1
    while (calls * merge < min_calls_per_point * buckets
           and buckets // (merge * 2) >= 8):
        merge *= 2
    return merge


def _top_names(totals: dict[str, int], limit: int) -> list[str]:
    """The ``limit`` commonest names (``(other)`` last, when anything is folded into it)."""
    ranked = sorted((n for n in totals if n != OTHER), key=lambda n: (-totals[n], n))
    shown = ranked[:limit]
    if len(ranked) > limit or OTHER in totals:
        shown.append(OTHER)
    return shown


def _shares(counts: list[dict[str, int]], names: list[str]) -> dict[str, list[float | None]]:
    out: dict[str, list[float | None]] = {name: [] for name in names}
    named = set(names)
    for bucket in counts:
        total = sum(bucket.values())
        other = sum(n for name, n in bucket.items() if name not in named)
        for name in names:
            if not total:
                out[name].append(None)
                continue
            n = bucket.get(name, 0) + (other if name == OTHER else 0)
            out[name].append(round(n / total, 4))
    return out


def _round(value: float | None) -> float | None:
    """Four significant digits: the report's charts cannot show more, the file stays small."""
    if value is None:
        return None
    return float(f"{value:.4g}")
