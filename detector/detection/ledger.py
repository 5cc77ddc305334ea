"""``RegimeLedger``: per series key, the regimes between change points and what served each.

A regime is a stretch of event time during which one key was served the same way. For each
the ledger keeps its span, its call count, the served models and system fingerprints (with
counts), and the median decode rate and output length: what a support engineer needs to file
a bug against a model version that is no longer served.

The engine notices a change a few hundred calls *after* it began (``changed_at`` <
``detected_at``) and closes the open regime retroactively at ``changed_at``. So the ledger
keeps its most recent ``tail_calls`` calls individually, four bytes of codes and a timestamp
to the second each (two bytes while the tail spans less than 18 hours), and folds a call into
the open regime's summary only when it leaves that tail. A close at ``at_ns`` then splits
exactly (to the second, far finer than the change point's own estimate): tail calls that
ended before ``at_ns`` go to the closing regime, the rest open the new one. When detection
took longer than the tail reaches, calls already folded cannot be moved; the closing regime
then reports how many of its calls probably belong to the next one (``mixed_calls``,
estimated from its arrival rate) instead of hiding it.

Speeds and lengths are kept as log-scale codes (5% bins, :func:`log_code`), so a regime's
medians are exact to ±2.5% from a fixed histogram that merges and splits without loss.
Memory is bounded: at most ``max_regimes`` closed regimes (older ones are dropped and
counted), at most ``max_values`` served models and fingerprints per regime (rarer ones count
as ``(other)``), two histograms over the codes seen for the open regime, and the tail (about
2 KB; a pickled ledger is about 4 KB). ``observe`` codes a call at once (no call record is
kept: 100k keys would hold millions of them) and the tail is folded 64 calls at a time.

>>> from swapwatch.detector.calls import LlmCall
>>> def call(t, fingerprint, tokens):
...     return LlmCall(start_ns=(t - 2) * 10**9, end_ns=t * 10**9, response_model="gpt-4o",
...                    system_fingerprint=fingerprint, output_tokens=tokens)
>>> ledger = RegimeLedger(LedgerConfig(tail_calls=8))
>>> ledger.observe_many([call(t, "fp_a", 200) for t in range(10, 20)])
>>> ledger.observe_many([call(t, "fp_b", 100) for t in range(20, 25)])
>>> ledger.close_regime(at_ns=20 * 10**9, reason="swap", signals=["fingerprint"],
...                     detected_ns=24 * 10**9)
>>> [(r.index, r.calls, r.fingerprints, round(r.median_output_tokens, -1))
...  for r in ledger.regimes()]
[(0, 10, {'fp_a': 10}, 200.0), (1, 5, {'fp_b': 5}, 100.0)]
>>> ledger.regime_at(15 * 10**9).fingerprints, ledger.regime_at(21 * 10**9).opened_by
({'fp_a': 10}, 'swap')
>>> ledger.regime_at(5 * 10**9) is None  # before anything was seen
True
"""

from __future__ import annotations

import sys
from array import array
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, computed_field
from swapwatch.detector.calls import LlmCall
from swapwatch.detector.detection.logcodes import CodeHistogram, code_value, log_code

OTHER = "(other)"
_BLOCK = 16  # calls taken at a time
_FOLD_SLACK = 64  # calls folded out of the tail at a time
_TICK_NS = 1_000_000_000  # tail timestamps: seconds since the ledger's base time (moves up)
_MAX_TICK = 2**32 - 1
_OTHER_CODE = 255  # a value code of a served model / fingerprint that found no room


def rfc3339(t_ns: int | None) -> str | None:
    """Event time in nanoseconds as an RFC 3339 UTC string (``None`` stays ``None``)."""
    if t_ns is None:
        return None
    return datetime.fromtimestamp(t_ns / 1e9, tz=UTC).isoformat().replace("+00:00", "Z")


class LedgerConfig(BaseModel):
    """How much history a regime ledger keeps per series key (defaults live here)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_regimes: int = Field(default=50, ge=1, description="Closed regimes kept per key.")
    tail_calls: int = Field(
        default=256, ge=0, le=100_000,
        description="Recent calls kept individually so that a change detected this many calls "
        "late still splits regimes exactly.",
    )
    max_values: int = Field(
        default=8, ge=1, le=64, description="Served models / fingerprints counted per regime."
    )


class Regime(BaseModel):
    """One regime of one key: ``[start_ns, end_ns)`` in event time (``end_ns`` ``None``: open)."""

    model_config = ConfigDict(frozen=True)

    index: int = Field(description="0 for the key's first regime, +1 per change point.")
    start_ns: int
    end_ns: int | None = None
    calls: int = 0
    first_call_ns: int | None = None
    last_call_ns: int | None = None
    served_models: dict[str, int] = Field(default_factory=dict)
    fingerprints: dict[str, int] = Field(default_factory=dict)
    median_decode_rate: float | None = Field(default=None, description="Output tokens/s, ±2.5%.")
    median_output_tokens: float | None = Field(default=None, description="±2.5%.")
    opened_by: str = "start"
    opened_signals: list[str] = Field(default_factory=list)
    detected_ns: int | None = Field(default=None, description="When the change was noticed.")
    mixed_calls: int = Field(
        default=0, description="Estimated calls of the next regime counted here (change detected "
        "later than the ledger's tail reached).",
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def start(self) -> str | None:
        return rfc3339(self.start_ns)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def end(self) -> str | None:
        return rfc3339(self.end_ns)

    def covers(self, t_ns: int) -> bool:
        return self.start_ns <= t_ns and (self.end_ns is None or t_ns < self.end_ns)

    def served_shares(self) -> dict[str, float]:
        return _shares(self.served_models)

    def fingerprint_shares(self) -> dict[str, float]:
        return _shares(self.fingerprints)


def _shares(counts: dict[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()} if total else {}


class _RegimeStats:
    """The running summary of the open regime (calls already folded out of the tail)."""

    __slots__ = ("calls", "decode_rate", "detected_ns", "fingerprints", "first_ns", "index",
                 "last_ns", "opened_by", "output_tokens", "served", "signals", "start_ns")

    def __init__(self, index: int, start_ns: int, opened_by: str, signals: list[str],
                 detected_ns: int | None) -> None:
        self.index = index
        self.start_ns = start_ns
        self.opened_by = opened_by
        self.signals = signals
        self.detected_ns = detected_ns
        self.calls = 0
        self.first_ns: int | None = None
        self.last_ns: int | None = None
        self.served: dict[str, int] = {}
        self.fingerprints: dict[str, int] = {}
        self.decode_rate = CodeHistogram()
        self.output_tokens = CodeHistogram()

    def copy(self) -> _RegimeStats:
        twin = _RegimeStats(self.index, self.start_ns, self.opened_by, list(self.signals),
                            self.detected_ns)
        twin.calls, twin.first_ns, twin.last_ns = self.calls, self.first_ns, self.last_ns
        twin.served, twin.fingerprints = dict(self.served), dict(self.fingerprints)
        twin.decode_rate = self.decode_rate.copy()
        twin.output_tokens = self.output_tokens.copy()
        return twin

    def regime(self, end_ns: int | None, mixed_calls: int = 0) -> Regime:
        rate = self.decode_rate.median()
        tokens = self.output_tokens.median()
        return Regime(
            index=self.index, start_ns=self.start_ns, end_ns=end_ns, calls=self.calls,
            first_call_ns=self.first_ns, last_call_ns=self.last_ns,
            served_models=dict(sorted(self.served.items(), key=lambda kv: -kv[1])),
            fingerprints=dict(sorted(self.fingerprints.items(), key=lambda kv: -kv[1])),
            median_decode_rate=None if rate is None else round(code_value(rate), 2),
            median_output_tokens=None if tokens is None else round(code_value(tokens), 1),
            opened_by=self.opened_by, opened_signals=list(self.signals),
            detected_ns=self.detected_ns, mixed_calls=mixed_calls,
        )


def _add_counts(into: dict[str, int], counts: dict[str, int], limit: int) -> None:
    for value, n in counts.items():
        if value in into or len(into) < limit:
            into[value] = into.get(value, 0) + n
        else:
            into[OTHER] = into.get(OTHER, 0) + n


class _Codes:
    """Byte codes for the strings of one field in the tail (≤ 254, compacted when full).

    A list searched in order, not a dict: a key is served by one to a few models and
    fingerprints, and a dict per table is most of a small ledger's overhead.
    """

    __slots__ = ("values",)

    def __init__(self) -> None:
        self.values: list[str | None] = [None]

    def get(self, value: str) -> int:
        """The code of ``value``, 0 when it has none."""
        try:
            return self.values.index(value)
        except ValueError:
            return 0

    def new(self, value: str) -> int | None:
        if len(self.values) >= _OTHER_CODE:
            return None
        self.values.append(sys.intern(value))  # one copy of a model name for all keys
        return len(self.values) - 1

    def name(self, code: int) -> str | None:
        return self.values[code] if code < len(self.values) else OTHER


class RegimeLedger:
    """The regimes of one series key (see the module docstring). Picklable."""

    __slots__ = ("_base_ns", "_closed", "_codes", "_fingerprints", "_open", "_served", "_ticks",
                 "_unfolded", "calls", "config", "dropped_regimes")

    def __init__(self, config: LedgerConfig | None = None) -> None:
        self.config = config or LedgerConfig()
        self._closed: list[Regime] = []  # at most max_regimes (a list: an empty deque is 600 B)
        self._open: _RegimeStats | None = None
        self._unfolded = 0  # calls added to the tail since it was last checked for folding
        self._base_ns = 0
        # the tail: tick, served code, fingerprint code, decode-rate code, output-length code
        self._ticks = array("H")  # seconds since the base (16-bit while they fit)
        self._codes = array("B")  # four per call: served, fingerprint, decode-rate, length
        self._served = _Codes()
        self._fingerprints = _Codes()
        self.calls = 0
        self.dropped_regimes = 0

    def __getstate__(self) -> dict[str, object]:
        self._check_tail()  # a checkpoint holds the tail as it is after a fold check
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict[str, object]) -> None:
        for name, value in state.items():
            setattr(self, name, value)

    # -- feeding --------------------------------------------------------------------------------

    def observe(self, call: LlmCall) -> None:
        """Account one call to the open regime: a few bytes of codes on the tail. O(1); the
        tail is checked for folding a block at a time. No call record is kept."""
        self.calls += 1
        end_ns = call.end_ns
        if self._open is None:
            self._base_ns = end_ns
            self._open = _RegimeStats(0, end_ns, "start", [], None)
        ticks = self._ticks
        tick = (end_ns - self._base_ns) // _TICK_NS
        if not 0 <= tick <= 0xFFFF:
            tick = min(max(tick, 0), _MAX_TICK)
            if tick > 0xFFFF and ticks.typecode == "H":
                self._ticks = ticks = array("I", ticks)
        ticks.append(tick)
        model = call.response_model
        fingerprint = call.system_fingerprint
        self._codes.extend((
            0 if model is None else self._served.get(model)
            or self._new_code(self._served, model),
            0 if fingerprint is None else self._fingerprints.get(fingerprint)
            or self._new_code(self._fingerprints, fingerprint),
            log_code(call.decode_rate),
            log_code(call.output_tokens),
        ))
        self._unfolded += 1
        if self._unfolded >= _BLOCK:
            self._check_tail()

    def observe_many(self, calls: Iterable[LlmCall]) -> None:
        for call in calls:
            self.observe(call)

    def close_regime(self, at_ns: int, reason: str, signals: list[str],
                     detected_ns: int | None = None) -> None:
        """End the open regime at ``at_ns`` (a change point) and open the next one there.

        A change that began before the open regime did (two alerts about one change) only
        adds its reason's signals to the open regime.
        """
        self._check_tail()
        current = self._open
        if current is None:  # nothing seen yet: the first regime starts with this change
            self._base_ns = at_ns
            self._open = _RegimeStats(0, at_ns, reason, sorted(signals), detected_ns)
            return
        if at_ns <= current.start_ns:
            current.signals = sorted(set(current.signals) | set(signals))
            return
        mixed = 0
        if current.last_ns is not None and current.last_ns >= at_ns:
            # detection came later than the tail reaches: estimate, from the regime's arrival
            # rate, how many already-folded calls ended after the change
            span = max(current.last_ns - (current.first_ns or current.start_ns), 1)
            mixed = min(current.calls, round(current.calls * (current.last_ns - at_ns) / span))
        split = (at_ns - self._base_ns) // _TICK_NS
        ticks = self._ticks
        before = [i for i, tick in enumerate(ticks) if tick < split]
        self._fold(current, before)
        if len(self._closed) >= self.config.max_regimes:
            self.dropped_regimes += 1
        self._closed.append(current.regime(end_ns=at_ns, mixed_calls=mixed))
        del self._closed[:-self.config.max_regimes]
        self._open = _RegimeStats(current.index + 1, at_ns, reason, sorted(signals), detected_ns)
        if before:
            keep = sorted(set(range(len(ticks))) - set(before))
            codes = self._codes
            self._ticks = array(ticks.typecode, [ticks[i] for i in keep])
            self._codes = array("B", [codes[4 * i + j] for i in keep for j in range(4)])

    # -- reading --------------------------------------------------------------------------------

    def regimes(self) -> list[Regime]:
        """Kept regimes, oldest first; the last one is open (``end_ns`` is ``None``)."""
        out = list(self._closed)
        current = self.open_regime()
        if current is not None:
            out.append(current)
        return out

    def open_regime(self) -> Regime | None:
        self._check_tail()
        if self._open is None:
            return None
        live = self._open.copy()  # the tail is folded into a copy, not into the real summary
        self._fold(live, range(len(self._ticks)))
        return live.regime(end_ns=None)

    def regime_at(self, t_ns: int) -> Regime | None:
        """The regime that served at event time ``t_ns``; ``None`` before the kept history."""
        self._check_tail()
        if self._open is not None and t_ns >= self._open.start_ns:
            return self.open_regime()
        for regime in reversed(self._closed):
            if regime.covers(t_ns):
                return regime
        return None

    # -- internals ------------------------------------------------------------------------------

    def _check_tail(self) -> None:
        """Fold what runs over the tail (a few blocks at once: cheaper per call)."""
        if not self._unfolded:
            return
        self._unfolded = 0
        excess = len(self._ticks) - self.config.tail_calls
        if excess >= _FOLD_SLACK or (excess > 0 and self.config.tail_calls < _FOLD_SLACK):
            self._fold(self._open, range(excess))  # type: ignore[arg-type]
            del self._ticks[:excess], self._codes[:4 * excess]
            self._rebase_ticks()

    def _rebase_ticks(self) -> None:
        """Count the tail's ticks from its oldest call: a tail that spans less than 18 hours
        (a key with a call every few minutes) then keeps them in 16 bits."""
        ticks = self._ticks
        if not ticks:
            return
        low = min(ticks)
        self._base_ns += low * _TICK_NS
        rebased = [t - low for t in ticks]
        self._ticks = array("H" if max(rebased) <= 0xFFFF else "I", rebased)

    def _new_code(self, codes: _Codes, value: str | None) -> int:
        if value is None:
            return 0
        known = codes.get(value)
        if known:
            return known
        code = codes.new(value)
        if code is None:  # table full: keep only the strings still in the tail
            self._compact()
            code = codes.new(value)
        return _OTHER_CODE if code is None else code

    def _compact(self) -> None:
        """Renumber both tables to the values still in the tail (in place: the same objects)."""
        column = self._codes
        for offset, codes in ((0, self._served), (1, self._fingerprints)):
            table = _Codes()
            for i in range(offset, len(column), 4):
                name = codes.name(column[i])
                new = 0 if name is None else table.get(name) or table.new(name)
                column[i] = _OTHER_CODE if new is None else new
            codes.values[:] = table.values

    def _fold(self, into: _RegimeStats, indices: Iterable[int]) -> None:
        """Add tail entries ``indices`` to a regime summary."""
        rows = list(indices)
        if not rows:
            return
        ticks, codes = self._ticks, self._codes
        served, fingerprints, rates, outputs = codes[0::4], codes[1::4], codes[2::4], codes[3::4]
        into.calls += len(rows)
        times = [ticks[i] for i in rows]
        first = self._base_ns + min(times) * _TICK_NS
        last = self._base_ns + max(times) * _TICK_NS
        into.first_ns = first if into.first_ns is None else min(into.first_ns, first)
        into.last_ns = last if into.last_ns is None else max(into.last_ns, last)
        limit = self.config.max_values
        for column, table, counts in ((served, self._served, into.served),
                                      (fingerprints, self._fingerprints, into.fingerprints)):
            named: dict[str, int] = {}
            for code, n in Counter(column[i] for i in rows).items():
                name = table.name(code)
                if name is not None:
                    named[name] = named.get(name, 0) + n
            _add_counts(counts, named, limit)
        into.decode_rate.add(rates[i] for i in rows)
        into.output_tokens.add(outputs[i] for i in rows)
