"""``DivergenceMonitor``: one model identifier, two different artifacts, at the same time.

Swap detection compares a key with its own past. This compares keys with each other: series
that request the same model (same :func:`~swapwatch.detector.ingest.identity.canonical_model`)
and differ only in

* ``environment`` — production and the evaluation environment (an eval suite that passed on
  an artifact production never gets), or
* ``provider`` — the same open model on two hosts (Llama-2-70b on Together and on Fireworks:
  a different artifact, or a different quantization, behind one identifier).

Each paired side keeps its last ``window_calls`` calls (a few compact numbers each). Every
``check_every_calls`` calls of a model group, every pair is compared trait by trait:

========== =================================================================================
trait      differs when
========== =================================================================================
fingerprint the fingerprint shares of each side's last ``min_samples`` calls overlap by at
           most ``max_share_overlap`` (disjoint fingerprints = different artifacts)
model_share the same for served models (``gpt-4o-2024-08-06`` vs ``gpt-4o-2024-11-20``)
decode_rate median output tokens/s, compared within strata of output length and streaming,
           at least ``min_relative_difference`` apart
output_tokens median output length, compared within strata of prompt size, as above
========== =================================================================================

Comparing within size strata is what keeps two environments that receive the *same* artifact
with different prompt mixes quiet: longer prompts give longer answers and more prefill, but
not another length or speed for a prompt of the same size. One disjoint categorical trait is
enough for a divergence; numeric traits need ``min_numeric_traits`` of them (a host's hardware
alone moves speed). A pair fires once per episode (after ``confirm_checks`` diverged checks)
and resolves after ``resolve_checks`` clean ones. Event time only.

>>> from swapwatch.detector.calls import LlmCall
>>> from swapwatch.detector.detection.keys import SeriesKey
>>> monitor = DivergenceMonitor(DivergenceConfig(min_samples=20, min_matched=10,
...                                              check_every_calls=10))
>>> def call(t, env, fingerprint):
...     return LlmCall(start_ns=t * 10**9, end_ns=t * 10**9 + 4 * 10**9, service="api",
...                    surface="chat", provider="openai", request_model="gpt-4o",
...                    environment=env, system_fingerprint=fingerprint, output_tokens=200,
...                    input_tokens=500)
>>> alerts = []
>>> for t in range(100):
...     for env, fingerprint in (("prod", "fp_mini"), ("eval", "fp_4o")):
...         c = call(t, env, fingerprint)
...         alerts += monitor.observe(SeriesKey.of(c), c)
>>> [(a.kind, a.signals, a.key.environment, a.key.request_model) for a in alerts]
[('divergence', ['fingerprint'], None, 'gpt-4o')]
"""

from __future__ import annotations

import math
import sys
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from swapwatch.detector.alerts.alert import Alert, AlertKey
from swapwatch.detector.calls import LlmCall
from swapwatch.detector.detection.keys import SeriesKey
from swapwatch.detector.detection.logcodes import code_value, log_codes

PairKind = Literal["environment", "host"]
CATEGORICAL_TRAITS = ("fingerprint", "model_share")
NUMERIC_TRAITS = ("decode_rate", "output_tokens")
_OTHER = 255  # byte code of a value beyond the side's table
_MIN_STRATUM = 5  # calls a size stratum needs on both sides to be compared


class DivergenceConfig(BaseModel):
    """When two keys of one model identifier are reported as served different artifacts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    window_calls: int = Field(default=512, ge=16, le=65_536,
                              description="Recent calls kept per side.")
    min_samples: int = Field(default=200, ge=1, description="Calls with the trait, each side.")
    min_matched: int = Field(default=100, ge=1,
                             description="Numeric traits: calls in size strata both sides share.")
    min_relative_difference: float = Field(default=0.25, gt=0,
                                           description="Medians this far apart differ.")
    min_numeric_traits: int = Field(default=2, ge=1, le=len(NUMERIC_TRAITS))
    max_share_overlap: float = Field(
        default=0.05, ge=0, lt=1, description="Categorical shares overlapping this little differ."
    )
    check_every_calls: int = Field(default=128, ge=1, description="Calls of a group per check.")
    confirm_checks: int = Field(default=2, ge=1, description="Diverged checks before firing.")
    resolve_checks: int = Field(default=3, ge=1, description="Clean checks in a row that resolve.")
    stale_s: float = Field(
        default=12 * 3600.0, gt=0, description="A side this far behind its partner is not compared."
    )
    match_surface: bool = Field(
        default=True, description="Pairs must share service, surface and tenant (same prompts)."
    )
    max_sides: int = Field(default=100_000, ge=2, description="Series tracked; idlest dropped.")
    max_sides_per_group: int = Field(default=16, ge=2, description="Series compared together.")


def pair_kind(a: SeriesKey, b: SeriesKey, match_surface: bool = True) -> PairKind | None:
    """How two series of one model may diverge: by environment, by host, or not comparable.

    >>> prod = SeriesKey("api", "chat", "openai", "gpt-4o", "prod")
    >>> pair_kind(prod, prod._replace(environment="eval"))
    'environment'
    >>> pair_kind(prod, prod._replace(provider="azure.ai.openai"))
    'host'
    >>> pair_kind(prod, prod._replace(surface="search")) is None  # other prompts: no pair
    True
    """
    if match_surface and (a.service, a.surface, a.tenant) != (b.service, b.surface, b.tenant):
        return None
    if a.provider == b.provider and a.environment != b.environment:
        return "environment"
    if a.environment == b.environment and a.provider != b.provider:
        return "host"
    return None


@dataclass(frozen=True, slots=True)
class TraitComparison:
    """One trait of two sides: share overlap (categorical) or median ratio (numeric)."""

    trait: str
    value: float  # overlap in [0, 1] for categorical traits; ratio a / b for numeric ones
    support: int  # calls behind the comparison (the smaller side, or matched calls)
    differs: bool

    def to_dict(self) -> dict[str, Any]:
        name = "overlap" if self.trait in CATEGORICAL_TRAITS else "ratio"
        return {name: round(self.value, 4), "support": self.support, "differs": self.differs}


def compare_shares(trait: str, a: Mapping[str, int], b: Mapping[str, int],
                   config: DivergenceConfig) -> TraitComparison | None:
    """Overlap of two value distributions; ``None`` when a side has too few calls.

    >>> cfg = DivergenceConfig(min_samples=10)
    >>> compare_shares("fingerprint", {"fp_a": 60, "fp_b": 40}, {"fp_c": 50}, cfg)
    TraitComparison(trait='fingerprint', value=0.0, support=50, differs=True)
    >>> compare_shares("fingerprint", {"fp_a": 90, "fp_b": 10}, {"fp_b": 50}, cfg).differs
    False
    """
    na, nb = sum(a.values()), sum(b.values())
    if min(na, nb) < config.min_samples:
        return None
    overlap = sum(min(count / na, b.get(value, 0) / nb) for value, count in a.items())
    return TraitComparison(trait, overlap, min(na, nb), overlap <= config.max_share_overlap)


def compare_medians(trait: str, a: Mapping[int, tuple[float, int]],
                    b: Mapping[int, tuple[float, int]], config: DivergenceConfig
                    ) -> TraitComparison | None:
    """Ratio of medians within shared size strata (``stratum -> (median, calls)``).

    The log ratios of the strata both sides hold are averaged, each weighted by the smaller
    side's calls. ``None`` when a side has fewer than ``min_samples`` calls in all or the
    shared strata hold fewer than ``min_matched``.

    >>> cfg = DivergenceConfig(min_samples=4, min_matched=4)
    >>> fast, slow = {3: (90.0, 6), 5: (100.0, 6)}, {3: (60.0, 6), 7: (10.0, 9)}
    >>> r = compare_medians("decode_rate", fast, slow, cfg)  # stratum 3 only: 90 / 60
    >>> round(r.value, 2), r.support, r.differs
    (1.5, 6, True)
    """
    if min(sum(n for _, n in a.values()), sum(n for _, n in b.values())) < config.min_samples:
        return None
    weighted, matched = 0.0, 0
    for stratum, (median_a, n_a) in a.items():
        median_b, n_b = b.get(stratum, (0.0, 0))
        weight = min(n_a, n_b)
        if weight < _MIN_STRATUM or median_a <= 0 or median_b <= 0:
            continue
        weighted += weight * math.log(median_a / median_b)
        matched += weight
    if matched < config.min_matched:
        return None
    ratio = math.exp(weighted / matched)
    differs = abs(math.log(ratio)) >= math.log1p(config.min_relative_difference)
    return TraitComparison(trait, ratio, matched, differs)


def divergent_traits(comparisons: Iterable[TraitComparison], config: DivergenceConfig
                     ) -> list[str]:
    """The traits that make two sides different artifacts; ``[]`` when they may be the same.

    >>> cfg = DivergenceConfig()
    >>> t = lambda name, differs: TraitComparison(name, 0.0, 500, differs)
    >>> divergent_traits([t("fingerprint", True), t("decode_rate", False)], cfg)
    ['fingerprint']
    >>> divergent_traits([t("decode_rate", True), t("output_tokens", False)], cfg)
    []
    >>> divergent_traits([t("decode_rate", True), t("output_tokens", True)], cfg)
    ['decode_rate', 'output_tokens']
    """
    differing = [c for c in comparisons if c.differs]
    categorical = [c.trait for c in differing if c.trait in CATEGORICAL_TRAITS]
    numeric = [c.trait for c in differing if c.trait in NUMERIC_TRAITS]
    if categorical or len(numeric) >= config.min_numeric_traits:
        return sorted(categorical + numeric)
    return []


Step = Literal["fire", "resolve"]


@dataclass(frozen=True, slots=True)
class Episode:
    """A pair's divergence episode: consecutive diverged / clean checks and whether it fired."""

    diverged: int = 0
    clean: int = 0
    firing: bool = False
    since_ns: int | None = None  # first diverged check of the current run


def next_episode(episode: Episode, diverged: bool | None, now_ns: int,
                 config: DivergenceConfig) -> tuple[Episode, Step | None]:
    """One check's effect on a pair (``diverged`` ``None``: too little data, no change).

    >>> cfg = DivergenceConfig(confirm_checks=2, resolve_checks=2)
    >>> e, steps = Episode(), []
    >>> for t, d in enumerate([True, True, True, None, False, True, False, False]):
    ...     e, step = next_episode(e, d, t, cfg)
    ...     steps.append(step)
    >>> steps
    [None, 'fire', None, None, None, None, None, 'resolve']
    """
    if diverged is None:
        return episode, None
    if diverged:
        since = episode.since_ns if episode.diverged or episode.firing else now_ns
        count = episode.diverged + 1
        if not episode.firing and count >= config.confirm_checks:
            return Episode(count, 0, True, since), "fire"
        return Episode(count, 0, episode.firing, since), None
    clean = episode.clean + 1
    if episode.firing and clean >= config.resolve_checks:
        return Episode(), "resolve"
    return Episode(0, clean, episode.firing, episode.since_ns if episode.firing else None), None


class _Window:
    """A paired side's last calls: ``stratum << 8 | log code`` of speed and length, and the
    byte codes of fingerprint and served model (four arrays, 6 bytes a call)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.decode_rate = array("H")
        self.output_tokens = array("H")
        self.fingerprint = array("B")
        self.served = array("B")
        self.values: dict[str, int] = {}  # fingerprint / served model -> code (1..254)

    def _codes(self, values: list[str | None]) -> list[int]:
        get = self.values.get
        found = [0 if v is None else get(v, -1) for v in values]
        if -1 in found:
            for i, code in enumerate(found):
                if code == -1:
                    found[i] = self._new_code(values[i])  # type: ignore[arg-type]
        return found

    def _new_code(self, value: str) -> int:
        known = self.values.get(value)
        if known is not None:
            return known
        if len(self.values) >= _OTHER - 1:  # keep only the codes still in the window
            used = set(self.fingerprint) | set(self.served)
            self.values = {v: c for v, c in self.values.items() if c in used}
            if len(self.values) >= _OTHER - 1:
                return _OTHER
        taken = set(self.values.values())
        code = next(c for c in range(1, _OTHER) if c not in taken)
        self.values[value] = code
        return code

    def add(self, calls: Sequence[LlmCall]) -> None:
        outs = [c.output_tokens for c in calls]
        out_codes = log_codes(outs)
        # decode rate within (streamed?, log2 output length); output length within log2 input
        self.decode_rate.extend([
            0 if code == 0 else ((32 if c.time_to_first_chunk_s is not None else 0)
                                 + min(int(o or 0).bit_length(), 31)) << 8 | code
            for c, code, o in zip(calls, log_codes([c.decode_rate for c in calls]), outs,
                                  strict=True)
        ])
        self.output_tokens.extend([
            (0 if code == 0 else min(int(c.input_tokens or 0).bit_length(), 63) << 8 | code)
            for c, code in zip(calls, out_codes, strict=True)
        ])
        self.fingerprint.extend(self._codes([c.system_fingerprint for c in calls]))
        self.served.extend(self._codes([c.response_model for c in calls]))
        excess = len(self.served) - self.capacity
        if excess >= 64 or (excess > 0 and self.capacity < 64):
            for column in (self.decode_rate, self.output_tokens, self.fingerprint, self.served):
                del column[:excess]

    def view(self, recent_values: int) -> _SideView:
        """Medians per stratum over the window; value counts over its last ``recent_values``
        calls (a new fingerprint shows as disjoint once that many calls carry it, not the
        whole window)."""
        names = {c: v for v, c in self.values.items()}
        view = _SideView()
        view.calls = len(self.served)
        for column, strata in ((self.decode_rate, view.decode_rate),
                               (self.output_tokens, view.output_tokens)):
            # sorted packed values: each stratum is one run, its median the run's middle
            ordered = sorted(column)
            at, end = bisect_right(ordered, 0), len(ordered)  # 0: no value on the call
            while at < end:
                stratum = ordered[at] >> 8
                stop = bisect_left(ordered, (stratum + 1) << 8, at)
                strata[stratum] = (code_value(ordered[(at + stop - 1) // 2] & 0xFF), stop - at)
                at = stop
        for column, counts in ((self.fingerprint, view.fingerprint),
                               (self.served, view.served)):
            for code, n in Counter(column[-recent_values:]).items():
                if code:
                    name = names.get(code, "(other)")
                    counts[name] = counts.get(name, 0) + n
        return view


class _SideView:
    """One check's read of a window: medians per size stratum, and value counts."""

    def __init__(self) -> None:
        self.calls = 0
        self.decode_rate: dict[int, tuple[float, int]] = {}
        self.output_tokens: dict[int, tuple[float, int]] = {}
        self.fingerprint: dict[str, int] = {}
        self.served: dict[str, int] = {}

    def summary(self) -> dict[str, Any]:
        def median(strata: dict[int, tuple[float, int]]) -> float | None:
            # the median of the stratum medians, by calls: a summary for people, not a test
            pairs = sorted(strata.values())
            total, seen = sum(n for _, n in pairs), 0
            for value, n in pairs:
                seen += n
                if seen * 2 >= total:
                    return round(value, 2)
            return None

        def top(counts: dict[str, int]) -> dict[str, float]:
            total = sum(counts.values())
            best = sorted(counts.items(), key=lambda kv: -kv[1])[:5]
            return {k: round(v / total, 4) for k, v in best}

        return {"calls": self.calls, "served_models": top(self.served),
                "fingerprints": top(self.fingerprint),
                "median_decode_rate": median(self.decode_rate),
                "median_output_tokens": median(self.output_tokens)}


class _Side:
    __slots__ = ("group", "key", "last_ns", "model", "server_address", "staged", "window")

    def __init__(self, key: SeriesKey, model: str, group: str | None) -> None:
        self.key = key
        self.model = model
        self.group = group
        self.server_address: str | None = None
        self.last_ns = 0
        self.window: _Window | None = None  # allocated once the side has a partner
        self.staged: list[LlmCall] | None = None  # calls not yet in the window (paired only)

    def __getstate__(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)


class _Group:
    __slots__ = ("episodes", "pending", "sides")

    def __init__(self) -> None:
        self.sides: list[SeriesKey] = []
        self.pending = 0  # calls since the last check
        self.episodes: dict[tuple[SeriesKey, SeriesKey], Episode] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)


def _canonical(model: str) -> str:
    from swapwatch.detector.ingest.identity import canonical_model

    try:
        return canonical_model(model) or model
    except Exception:  # a hot-path hook never raises; the raw id still groups
        return model


def _at(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)


class DivergenceMonitor:
    """Pairs of series of one model identifier, compared (see the module docstring)."""

    def __init__(self, config: DivergenceConfig | None = None) -> None:
        self.config = config or DivergenceConfig()
        self._sides: OrderedDict[SeriesKey, _Side] = OrderedDict()
        self._groups: dict[str, _Group] = {}  # series that may pair with each other
        self.checks = 0
        self.dropped_sides = 0

    # -- feeding --------------------------------------------------------------------------------

    def observe(self, key: SeriesKey, call: LlmCall) -> list[Alert]:
        """Take one call of series ``key`` and check at once; returns divergence alerts."""
        self.add(key, call)
        return self.due(key)

    def add(self, key: SeriesKey, call: LlmCall) -> None:
        """Take one call of series ``key``; :meth:`due` compares the sides later.

        Only a paired side (one with a window) holds calls between the two, so a detector of
        100k series keeps no call records for the many that have no partner.
        """
        if not self.config.enabled or not key.request_model:
            return
        side = self._sides.get(key)
        if side is None:
            side = self._add_side(key)
            if side is None:
                return
        else:
            self._sides.move_to_end(key)
        if side.group is None:
            return
        if call.end_ns > side.last_ns:
            side.last_ns = call.end_ns
        if side.server_address is None and call.server_address:
            side.server_address = sys.intern(call.server_address)
        if side.window is not None:
            if side.staged is None:
                side.staged = []
            side.staged.append(call)

    def due(self, key: SeriesKey) -> list[Alert]:
        """Move ``key``'s staged calls into its window, and check its group when it is time
        (every ``check_every_calls`` calls of the group)."""
        side = self._sides.get(key)
        if side is None or side.window is None or side.group is None or not side.staged:
            return []
        calls, side.staged = side.staged, None
        side.window.add([c for c in calls if not c.is_error])
        group = self._groups[side.group]
        group.pending += len(calls)
        if group.pending < self.config.check_every_calls:
            return []
        group.pending = 0
        return self._check(group, side.last_ns)

    def forget(self, key: SeriesKey) -> None:
        """Drop a series (the engine evicted it)."""
        side = self._sides.pop(key, None)
        if side is None:
            return
        group = self._groups.get(side.group) if side.group is not None else None
        if group is None:
            return
        group.sides = [k for k in group.sides if k != key]
        group.episodes = {p: e for p, e in group.episodes.items() if key not in p}
        if not group.sides:
            del self._groups[side.group]  # type: ignore[arg-type]

    def firing(self) -> list[tuple[SeriesKey, SeriesKey]]:
        """Pairs whose divergence episode is open."""
        return [pair for g in self._groups.values() for pair, e in g.episodes.items()
                if e.firing]

    # -- internals ------------------------------------------------------------------------------

    def _add_side(self, key: SeriesKey) -> _Side | None:
        cfg = self.config
        if len(self._sides) >= cfg.max_sides:
            old, _ = next(iter(self._sides.items()))
            self.forget(old)
            self.dropped_sides += 1
        model = sys.intern(_canonical(key.request_model or ""))
        # only series that may pair share a group: one model, and (by default) one surface
        group_key = model if not cfg.match_surface else "\x1f".join(
            [model, key.service or "", key.surface or "", key.tenant or ""])
        side = _Side(key, model, group_key)
        self._sides[key] = side
        group = self._groups.setdefault(group_key, _Group())
        if len(group.sides) >= cfg.max_sides_per_group:
            side.group = None  # kept as a stub so that it is not looked at again
            return side
        for other in group.sides:
            if pair_kind(key, other, cfg.match_surface) is not None:
                for k in (key, other):
                    paired = self._sides[k]
                    if paired.window is None:
                        paired.window = _Window(cfg.window_calls)
        group.sides.append(key)
        return side

    def _check(self, group: _Group, now_ns: int) -> list[Alert]:
        cfg = self.config
        self.checks += 1
        views: dict[SeriesKey, _SideView] = {}
        alerts: list[Alert] = []
        sides = group.sides
        for i, a in enumerate(sides):
            for b in sides[i + 1:]:
                kind = pair_kind(a, b, cfg.match_surface)
                if kind is None:
                    continue
                side_a, side_b = self._sides[a], self._sides[b]
                if side_a.window is None or side_b.window is None:
                    continue
                pair = (a, b) if a.slug() <= b.slug() else (b, a)
                if abs(side_a.last_ns - side_b.last_ns) > cfg.stale_s * 1e9:
                    verdict: list[str] | None = None
                    comparisons: list[TraitComparison] = []
                else:
                    for k, s in ((a, side_a), (b, side_b)):
                        if k not in views and s.window is not None:
                            views[k] = s.window.view(cfg.min_samples)
                    comparisons = _compare(views[pair[0]], views[pair[1]], cfg)
                    verdict = divergent_traits(comparisons, cfg) if comparisons else None
                episode = group.episodes.get(pair, Episode())
                episode, step = next_episode(
                    episode, None if verdict is None else bool(verdict), now_ns, cfg)
                if episode == Episode():
                    group.episodes.pop(pair, None)
                else:
                    group.episodes[pair] = episode
                if step is not None:
                    alerts.append(self._alert(pair, kind, step, verdict or [], comparisons,
                                              views, episode, now_ns))
        return alerts

    def _alert(self, pair: tuple[SeriesKey, SeriesKey], kind: PairKind, step: Step,
               traits: list[str], comparisons: list[TraitComparison],
               views: Mapping[SeriesKey, _SideView], episode: Episode, now_ns: int) -> Alert:
        a, b = pair
        model = self._sides[a].model
        common = AlertKey(
            service=a.service if a.service == b.service else None,
            surface=a.surface if a.surface == b.surface else None,
            provider=a.provider if a.provider == b.provider else None,
            request_model=a.request_model if a.request_model == b.request_model else model,
            environment=a.environment if a.environment == b.environment else None,
            tenant=a.tenant if a.tenant == b.tenant else None,
        )
        if kind == "environment":
            what = f"{a.environment or '-'} and {b.environment or '-'}"
        else:
            what = f"hosts {a.provider or '-'} and {b.provider or '-'}"
        if step == "fire":
            summary = (f"{common.request_model}: {what} get different artifacts "
                       f"({', '.join(traits)} differ)")
        else:
            summary = f"{common.request_model}: {what} get the same artifact again"
        sides = []
        for k in pair:
            side = self._sides[k]
            view = views.get(k)
            sides.append({"key": k.slug(), "environment": k.environment, "provider": k.provider,
                          "server_address": side.server_address, "request_model": k.request_model,
                          **(view.summary() if view is not None else {})})
        evidence = {"pair": kind, "model": model, "sides": sides,
                    "traits": {c.trait: c.to_dict() for c in comparisons}}
        since = episode.since_ns if step == "fire" and episode.since_ns is not None else now_ns
        return Alert(
            kind="divergence", status="firing" if step == "fire" else "resolved", key=common,
            signals=traits if step == "fire" else [], detected_at=_at(now_ns),
            changed_at=_at(since), summary=summary, evidence=evidence,
            dedup_key=f"divergence/{model}/{a.slug()}~{b.slug()}"[:255],
            severity="error" if step == "fire" else "info",
        )


def _compare(a: _SideView, b: _SideView, cfg: DivergenceConfig) -> list[TraitComparison]:
    found = (
        compare_shares("fingerprint", a.fingerprint, b.fingerprint, cfg),
        compare_shares("model_share", a.served, b.served, cfg),
        compare_medians("decode_rate", a.decode_rate, b.decode_rate, cfg),
        compare_medians("output_tokens", a.output_tokens, b.output_tokens, cfg),
    )
    return [c for c in found if c is not None]
