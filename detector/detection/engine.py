"""``Detector``: the detection engine — calls in, alerts out, in event time.

Per call (O(1), a few µs): put it back in event-time order (a small reorder buffer of
``reorder_window_s``), route it to its :class:`SeriesKey`, check identity (immediate), feed
every signal learner, and — only when a learner's state changed, or every block while one is
shifted — correlate:

* ``identity``: a served model outside what the requested one may resolve to, at once;
* ``incident``: timing shifted on most active keys of one provider within
  ``incident.window_s`` — one alert per provider episode (key ``{provider}``), resolved when
  the keys recover; while it lasts, load signals do not count towards swaps of that provider;
* ``swap``: ``correlation.min_signals`` distinct signals of one key shifted within the window
  (see :mod:`~swapwatch.detector.detection.correlate` for how load signals are counted).

After a swap the participating learners adopt the new regime, so one change is one alert. A
lone shift that finds no partners within ``hold_requests`` calls is adopted silently but kept
(a few per key) as evidence that a slower partner — quality scores are sparse — may still join
within the window. Every settled shift becomes a :class:`ChangePoint` that a regime ledger
drains.

Peers as the control for load: a key whose timing alone shifted waits ``peer_wait_requests``
calls; if another key of its provider slowed meanwhile (flagged, or — for a key too quiet to
have flagged yet — its latest block already slower by twice the minimum effect), it is the
provider, not this key: no swap, and enough such keys open an ``incident``.

>>> from swapwatch.detector.calls import LlmCall
>>> detector = Detector(DetectionConfig())
>>> call = LlmCall(start_ns=0, end_ns=10**9, service="api", surface="chat", provider="openai",
...                request_model="gpt-4o", response_model="gpt-4o-mini-2024-07-18")
>>> [(a.kind, a.signals) for a in detector.process(call) + detector.flush()]
[('identity', ['identity'])]
>>> len(detector.keys())
1
"""

from __future__ import annotations

import copy
import heapq
import itertools
import re
from collections import OrderedDict, deque
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from swapwatch.detector.alerts.alert import Alert, AlertKey
from swapwatch.detector.calls import LlmCall
from swapwatch.detector.detection.changes import ChangePoint, Outcome
from swapwatch.detector.detection.checkpointing import (
    TrackedKeyTable,
    shared_objects,
    upgrade_table,
)
from swapwatch.detector.detection.config import DetectionConfig
from swapwatch.detector.detection.correlate import Shift, is_incident, swap_signals
from swapwatch.detector.detection.divergence import DivergenceMonitor
from swapwatch.detector.detection.identity import IdentityWatch
from swapwatch.detector.detection.keys import SeriesKey
from swapwatch.detector.detection.ledger import RegimeLedger
from swapwatch.detector.detection.numeric import SHIFTED
from swapwatch.detector.detection.signals import (
    LOAD_SIGNALS,
    TIMING_SIGNALS,
    NumericLearner,
    SignalLearner,
    build_learners,
)

_SWEEP_NS = 60 * 10**9
_INCIDENT_MAX_HOLD_NS = 4 * 3600 * 10**9
_SETTLED_KEPT = 8
_PEERS_SCANNED = 256  # peers inspected for not-yet-flagged slowdowns (bounded work)


def _at(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)


class KeyState:
    """Everything detection keeps for one series key."""

    __slots__ = ("calls", "first_seen_ns", "identity", "last_end_ns", "learners", "ledger",
                 "moved", "n_shifted", "settled", "staged")

    identity: IdentityWatch | None

    def __init__(self, config: DetectionConfig, first_seen_ns: int = 0,
                 any_model: bool = False) -> None:
        self.first_seen_ns = first_seen_ns
        self.learners: list[SignalLearner] = build_learners(config)
        # an auto-router alias may resolve to any model: model_share watches it instead
        self.identity: IdentityWatch | None = None if any_model else IdentityWatch(
            config.identity.resolve_after_calls, config.identity.resolve_after_s
        )
        self.calls = 0
        self.n_shifted = 0
        # learners learn every call at once (no call record is kept per key: 100k keys would
        # hold millions); correlation runs once per block of ``staged`` calls
        self.staged = 0
        self.moved = False  # a learner flagged or withdrew a shift since the last correlation
        self.last_end_ns = 0
        # lone shifts adopted without partners: a partner detected later can still join them
        # (at most _SETTLED_KEPT; a list, not a deque: an empty deque alone is 600 bytes)
        self.settled: list[tuple[Shift, dict[str, Any]]] | None = None  # made on first use
        self.ledger = RegimeLedger(config.ledger)  # regimes between this key's change points

    def __getstate__(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)

    @property
    def warm(self) -> bool:
        return any(learner.warm for learner in self.learners)


class Detector:
    """The detection engine (see the module docstring). Picklable for checkpoints."""

    def __init__(self, config: DetectionConfig | None = None) -> None:
        self.config = config or DetectionConfig()
        cfg = self.config
        self._table: TrackedKeyTable[KeyState] = TrackedKeyTable(cfg.keys.max_keys,
                                                                 cfg.keys.idle_evict_s * 1e9)
        self._buffer: list[tuple[int, int, LlmCall]] = []
        self._seq = itertools.count()
        self._max_end_ns = 0
        self._last_sweep_ns = 0
        # provider -> its keys, in arrival order (a dict: deterministic iteration)
        self._provider_keys: dict[str, dict[SeriesKey, None]] = {}
        self._timing_shifted: dict[str, dict[SeriesKey, int]] = {}
        self._incidents: dict[str, dict[str, Any]] = {}
        self._active: dict[str, tuple[int, int]] = {}  # provider -> (computed at ns, count)
        self._change_points: deque[ChangePoint] = deque(maxlen=max(cfg.max_change_points, 1))
        self._divergence = DivergenceMonitor(cfg.divergence)
        self.calls_seen = 0
        self.late_calls = 0
        self._stage = cfg.numeric.block_size
        self._any_model = [re.compile(p) for p in cfg.identity.any_model_patterns]
        self._changed: set[SeriesKey] = set()  # keys learned since take_changes()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_seq"] = next(self._seq)  # itertools.count does not pickle in 3.14+
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state["_seq"] = itertools.count(state["_seq"])
        _tracking(state)
        self.__dict__.update(state)

    # -- public API -----------------------------------------------------------------------------

    def process(self, call: LlmCall) -> list[Alert]:
        """Take one call; returns the alerts it (or calls it released) caused."""
        self.calls_seen += 1
        if call.end_ns < self._max_end_ns - self.config.reorder_window_s * 1e9:
            self.late_calls += 1  # too late to reorder: learned where it lands
        heapq.heappush(self._buffer, (call.end_ns, next(self._seq), call))
        if call.end_ns > self._max_end_ns:
            self._max_end_ns = call.end_ns
        horizon = self._max_end_ns - self.config.reorder_window_s * 1e9
        alerts: list[Alert] = []
        buffer = self._buffer
        while buffer and (buffer[0][0] <= horizon or len(buffer) > self.config.reorder_max_calls):
            alerts.extend(self._handle(heapq.heappop(buffer)[2]))
        return alerts

    def flush(self, now_ns: int | None = None) -> list[Alert]:
        """Release buffered calls up to ``now_ns`` (all when ``None``) and evict idle keys."""
        alerts: list[Alert] = []
        limit = None if now_ns is None else now_ns - self.config.reorder_window_s * 1e9
        while self._buffer and (limit is None or self._buffer[0][0] <= limit):
            alerts.extend(self._handle(heapq.heappop(self._buffer)[2]))
        if now_ns is None:  # end of input: close every key's partial block (correlate it)
            self._changed.update(self._table)
            for key, state in list(self._table.items()):
                alerts.extend(self._end_block(key, state))
        if now_ns is not None:
            self._sweep(now_ns)
        return alerts

    def keys(self) -> list[SeriesKey]:
        return list(self._table)

    def learners(self, key: SeriesKey) -> list[SignalLearner]:
        state = self._table.get(key)
        return list(state.learners) if state else []

    def ledger(self, key: SeriesKey) -> RegimeLedger | None:
        """The regime ledger of ``key`` (``None`` for an unknown or evicted key)."""
        state = self._table.get(key)
        return state.ledger if state else None

    def ledgers(self) -> list[tuple[SeriesKey, RegimeLedger]]:
        return [(key, state.ledger) for key, state in self._table.items()]

    def drain_change_points(self) -> list[ChangePoint]:
        """Change points settled since the last drain (the regime ledger's input)."""
        out = list(self._change_points)
        self._change_points.clear()
        return out

    # -- per call -------------------------------------------------------------------------------

    def _handle(self, call: LlmCall) -> list[Alert]:
        key = SeriesKey.of(call, self.config.keys.include_tenant)
        table = self._table
        state = table.get(key)
        if state is None:
            key = key.interned()
            any_model = any(p.search(key.request_model or "") for p in self._any_model)
            state = table.get_or_create(
                key, call.end_ns, lambda: KeyState(self.config, call.end_ns, any_model))
            if key.provider is not None:
                self._provider_keys.setdefault(key.provider, {})[key] = None
        else:
            table.touch(key, call.end_ns)
        state.calls += 1
        self._changed.add(key)
        index = state.calls
        alerts: list[Alert] = []
        identity = state.identity
        if identity is not None:
            verdict = identity.observe(call.request_model, call.response_model, call.end_ns, index)
            if verdict is not None:
                alerts.append(self._identity_alert(key, identity, call, verdict))
                at_ns = (identity.first_mismatch_ns if verdict == "fire"
                         else identity.last_mismatch_ns + 1)
                state.ledger.close_regime(at_ns, "identity" if verdict == "fire"
                                          else "identity-resolved", ["identity"], call.end_ns)
        state.ledger.observe(call)
        for learner in state.learners:
            event = learner.learn_one(call, index)
            if event:
                state.moved = True
                state.n_shifted += 1 if event == SHIFTED else -1
        self._divergence.add(key, call)
        state.last_end_ns = call.end_ns
        state.staged += 1
        if state.staged >= self._stage:
            alerts.extend(self._end_block(key, state))
        if call.end_ns - self._last_sweep_ns >= _SWEEP_NS:
            self._sweep(call.end_ns)
        return alerts

    def _end_block(self, key: SeriesKey, state: KeyState) -> list[Alert]:
        """After a block of the key's calls: compare series, and correlate if a shift moved."""
        if not state.staged:
            return []
        state.staged = 0
        divergence = self._divergence.due(key)
        moved, state.moved = state.moved, False
        if moved or state.n_shifted:
            return divergence + self._correlate(key, state, state.last_end_ns, state.calls)
        return divergence + self._quiet_peer(key, state, state.last_end_ns)

    def _quiet_peer(self, key: SeriesKey, state: KeyState, now_ns: int) -> list[Alert]:
        """A key too quiet to flag, slowing while another key of its provider is flagged slow:
        enough to recognise a provider incident (cheap: only while a peer is flagged)."""
        provider = key.provider
        flagged = self._timing_shifted.get(provider) if provider is not None else None
        if not flagged or provider is None or provider in self._incidents:
            return []
        since = min(flagged.values()) - int(self.config.incident.window_s * 1e9 / 2)
        if now_ns - since > 2 * self.config.incident.window_s * 1e9:
            return []
        if not any(isinstance(lr, NumericLearner) and lr.name in TIMING_SIGNALS
                   and lr.slowing_since(since) for lr in state.learners):
            return []
        return self._incident_update(provider, now_ns, soft_since=since)

    def _correlate(self, key: SeriesKey, state: KeyState, now_ns: int, index: int) -> list[Alert]:
        cfg = self.config.correlation
        alerts = self._track_timing(key, state, now_ns)
        shifted = [lr for lr in state.learners if lr.shifted]
        evidence = {
            lr.name: (Shift(lr.name, lr.shift_started_ns or now_ns, lr.shift_started_index or index,
                            lr.shift_detected_index or index), lr.summary())
            for lr in shifted
        }
        # shifts adopted earlier count as long as their start is within the window
        horizon = index - cfg.window_requests - cfg.hold_requests
        for shift, summary in state.settled or ():
            if shift.signal not in evidence and shift.started_index >= horizon:
                evidence[shift.signal] = (shift, summary)
        shifts = [shift for shift, _ in evidence.values()]
        provider = key.provider
        incident = provider is not None and provider in self._incidents
        names = swap_signals(
            shifts,
            incident=incident,
            peers_shifted=not cfg.load_only_swaps,
            waited_requests=index - max((s.detected_index for s in shifts
                                         if s.signal in {lr.name for lr in shifted}),
                                        default=index),
            min_signals=cfg.min_signals,
            window_requests=cfg.window_requests,
            window_ns=cfg.window_s * 1e9,
            peer_wait_requests=cfg.peer_wait_requests,
        )
        # a quiet peer's block can span half an hour: its latest may have begun a bit earlier
        since = min((sh.started_ns for sh in shifts), default=now_ns) \
            - int(self.config.incident.window_s * 1e9 / 2)
        if names and not set(names) - LOAD_SIGNALS and self._peers_shifted(key, since):
            names = []  # the provider's other keys slowed too: load, not this key's model
            if provider is not None:
                alerts.extend(self._incident_update(provider, now_ns, soft_since=since))
        if names and any(lr.name in names for lr in shifted):
            chosen = [lr for lr in shifted if lr.name in names]
            firing = state.identity is not None and state.identity.firing
            outcome: Outcome = "identity" if firing else "swap"
            if outcome == "swap":
                used = [evidence[name] for name in names]
                alerts.append(self._swap_alert(key, used, now_ns, index))
                started_ns = min(shift.started_ns for shift, _ in used)
                state.ledger.close_regime(started_ns, "swap", sorted(names), now_ns)
            if state.settled:
                state.settled[:] = [item for item in state.settled
                                    if item[0].signal not in names]
            self._settle(key, state, chosen, now_ns, outcome)
        # lone shifts that waited long enough are adopted as the new normal
        stale = [
            lr for lr in state.learners
            if lr.shifted and index - (lr.shift_detected_index or index) >= cfg.hold_requests
            and not (incident and lr.name in LOAD_SIGNALS
                     and now_ns - (lr.shift_started_ns or now_ns) < _INCIDENT_MAX_HOLD_NS)
        ]
        if stale:
            self._settle(key, state, stale, now_ns, "incident" if incident else "unconfirmed")
        alerts.extend(self._track_timing(key, state, now_ns))
        return alerts

    def _settle(self, key: SeriesKey, state: KeyState, learners: list[SignalLearner],
                now_ns: int, outcome: Outcome) -> None:
        for lr in learners:
            if not lr.shifted:
                continue
            summary = lr.summary()
            if outcome == "unconfirmed":
                if state.settled is None:
                    state.settled = []
                state.settled.append((Shift(
                    lr.name, lr.shift_started_ns or now_ns, lr.shift_started_index or 0,
                    lr.shift_detected_index or 0), summary))
                del state.settled[:-_SETTLED_KEPT]
            if self.config.max_change_points:
                self._change_points.append(ChangePoint(
                    key=key, signal=lr.name, started_ns=lr.shift_started_ns or now_ns,
                    detected_ns=now_ns, started_index=lr.shift_started_index or 0,
                    detected_index=lr.shift_detected_index or 0, outcome=outcome,
                    before={"before": summary.get("before")},
                    after={"after": summary.get("after")},
                ))
            lr.rebaseline()
            state.n_shifted -= 1

    # -- provider peers and incidents -------------------------------------------------------------

    def _track_timing(self, key: SeriesKey, state: KeyState, now_ns: int) -> list[Alert]:
        provider = key.provider
        if provider is None:
            return []
        # an incident slows a provider down; a key that got faster is not part of one
        starts = [lr.shift_started_ns for lr in state.learners
                  if isinstance(lr, NumericLearner) and lr.name in TIMING_SIGNALS and lr.slowed
                  and lr.shift_started_ns is not None]
        shifted = self._timing_shifted.setdefault(provider, {})
        before = key in shifted
        if starts:
            shifted[key] = min(starts)
        else:
            shifted.pop(key, None)
        if before == bool(starts):
            return []
        soft = min(starts) - int(self.config.incident.window_s * 1e9 / 2) if starts else None
        return self._incident_update(provider, now_ns, soft_since=soft)

    def _active_keys(self, provider: str, now_ns: int) -> int:
        computed_at, count = self._active.get(provider, (-1, 0))
        if computed_at < 0 or now_ns - computed_at >= _SWEEP_NS:
            window = self.config.incident.window_s * 1e9
            count = 0
            # keys busy enough to show a shift within the window (a quiet key cannot)
            needed = self.config.numeric.block_size * self.config.numeric.recent_blocks
            for k in self._provider_keys.get(provider, ()):
                seen = self._table.last_seen_ns(k)
                st = self._table.get(k)
                if seen is None or st is None or now_ns - seen > window or not st.warm:
                    continue
                span = max(seen - st.first_seen_ns, 1)
                if st.calls * window / span >= needed:
                    count += 1
            self._active[provider] = (now_ns, count)
        return count

    def _peers_shifted(self, key: SeriesKey, since_ns: int) -> bool:
        """Another key of the provider slowed down since ``since_ns`` (flagged, or its latest
        block already slower): then this key's timing may be the provider's, not its own."""
        provider = key.provider
        if provider is None:
            return False
        shifted = self._timing_shifted.get(provider, {})
        window = self.config.incident.window_s * 1e9
        if any(k != key and abs(start - since_ns) <= window for k, start in shifted.items()):
            return True
        for peer in itertools.islice(self._provider_keys.get(provider, ()), _PEERS_SCANNED):
            state = self._table.get(peer)
            if peer == key or state is None:
                continue
            for lr in state.learners:
                if (isinstance(lr, NumericLearner) and lr.name in TIMING_SIGNALS
                        and lr.slowing_since(since_ns)):
                    return True
        return False

    def _incident_update(self, provider: str, now_ns: int,
                         soft_since: int | None = None) -> list[Alert]:
        """Open or close the provider's incident. With ``soft_since``, peers whose latest
        blocks are already slower (too quiet to have flagged yet) count as shifted."""
        cfg = self.config.incident
        shifted = self._timing_shifted.get(provider, {})
        window = cfg.window_s * 1e9
        recent = {k: s for k, s in shifted.items() if now_ns - s <= window + _INCIDENT_MAX_HOLD_NS}
        active = max(self._active_keys(provider, now_ns), len(recent))
        open_incident = self._incidents.get(provider)
        if open_incident is None:
            newest = max(recent.values(), default=now_ns)
            together = {k: s for k, s in recent.items() if newest - s <= window}
            if soft_since is not None:
                peers = self._provider_keys.get(provider, ())
                for peer in itertools.islice(peers, _PEERS_SCANNED):
                    state = self._table.get(peer)
                    if peer in together or state is None:
                        continue
                    if any(isinstance(lr, NumericLearner) and lr.name in TIMING_SIGNALS
                           and lr.slowing_since(soft_since) for lr in state.learners):
                        together[peer] = soft_since
            if not is_incident(len(together), active, cfg.min_keys, cfg.fraction):
                return []
            started = min(together.values())
            self._incidents[provider] = {"started_ns": started, "keys": len(together)}
            return [self._incident_alert(provider, together, active, started, now_ns, "firing")]
        if len(recent) >= max(1, cfg.min_keys - 1) and len(recent) >= cfg.fraction * active / 2:
            return []
        del self._incidents[provider]
        return [self._incident_alert(provider, recent, active, open_incident["started_ns"],
                                     now_ns, "resolved")]

    def _sweep(self, now_ns: int) -> None:
        self._last_sweep_ns = now_ns
        for key, _state in self._table.evict_idle(now_ns):
            self._divergence.forget(key)
            if key.provider is not None:
                self._provider_keys.get(key.provider, {}).pop(key, None)
                self._timing_shifted.get(key.provider, {}).pop(key, None)

    # -- alerts ---------------------------------------------------------------------------------

    def _swap_alert(self, key: SeriesKey, used: list[tuple[Shift, dict[str, Any]]],
                    now_ns: int, index: int) -> Alert:
        started_ns = min(shift.started_ns for shift, _ in used)
        started_index = min(shift.started_index for shift, _ in used)
        names = sorted(shift.signal for shift, _ in used)
        evidence = {
            shift.signal: {
                "started_at": _at(shift.started_ns).isoformat(),
                "started_index": shift.started_index,
                "detected_index": shift.detected_index,
                **summary,
            }
            for shift, summary in sorted(used, key=lambda item: item[0].signal)
        }
        return Alert(
            kind="swap", key=key.alert_key(), signals=names, detected_at=_at(now_ns),
            changed_at=_at(started_ns), delay_requests=index - started_index,
            summary=f"{key.request_model or '?'} on {key.surface or key.service or '?'}: "
                    f"{len(names)} signals shifted together ({', '.join(names)})",
            evidence=evidence, severity="critical",
        )

    def _identity_alert(self, key: SeriesKey, identity: IdentityWatch, call: LlmCall,
                        verdict: str) -> Alert:
        evidence = {**identity.evidence(), "request_model": call.request_model,
                    "served_model": call.response_model}
        first = identity.first_mismatch_ns
        if verdict == "fire":
            summary = (f"{call.request_model} answered by {call.response_model} "
                       f"on {key.surface or key.service or '?'}")
        else:
            summary = f"{call.request_model}: served models are as expected again"
        return Alert(
            kind="identity", status="firing" if verdict == "fire" else "resolved",
            key=key.alert_key(), signals=["identity"], detected_at=_at(call.end_ns),
            changed_at=_at(first), summary=summary, evidence=evidence,
            delay_requests=0 if verdict == "fire" else None, severity="critical",
        )

    def _incident_alert(self, provider: str, keys: dict[SeriesKey, int], active: int,
                        started_ns: int, now_ns: int, status: str) -> Alert:
        signals: set[str] = set()
        for k in keys:
            st = self._table.get(k)
            if st is not None:
                signals.update(lr.name for lr in st.learners
                               if lr.shifted and lr.name in TIMING_SIGNALS)
        shown = sorted(keys, key=lambda k: k.slug())[:10]
        return Alert(
            kind="incident", status="firing" if status == "firing" else "resolved",
            key=AlertKey(provider=provider), signals=sorted(signals) or sorted(TIMING_SIGNALS),
            detected_at=_at(now_ns), changed_at=_at(started_ns),
            summary=(f"{provider}: timing shifted on {len(keys)} of {active} active keys"
                     if status == "firing" else f"{provider}: timing back to normal"),
            evidence={"shifted_keys": len(keys), "active_keys": active,
                      "keys": [k.slug() for k in shown]},
            severity="error" if status == "firing" else "info",
        )

    # -- incremental checkpoints (the runtime's state store; see detection/checkpointing.py) ----

    def take_changes(self) -> tuple[dict[SeriesKey, KeyState], set[SeriesKey]]:
        """The keys whose state changed since the last call (with their states), and the keys
        dropped since; both are forgotten here. O(keys changed)."""
        table = self._table
        touched, self._changed = self._changed, set()
        dropped = table.take_dropped() | touched
        changed = {key: state for key in touched if (state := table.get(key)) is not None}
        return changed, {key for key in dropped if key not in changed}

    def shared_state(self) -> dict[str, Any]:
        """Everything but the key states: configuration, reorder buffer, provider maps,
        incidents, divergence, change points, counters, and the key table's order and clocks.
        Pickle it before the detector takes another call (it shares the table's clocks)."""
        state = self.__getstate__()
        del state["_changed"]
        skeleton = copy.copy(self._table)
        skeleton._states = OrderedDict.fromkeys(self._table)  # type: ignore[assignment]
        skeleton.dropped = set()
        state["_table"] = skeleton
        return state

    def key_states(self) -> list[tuple[SeriesKey, KeyState]]:
        return list(self._table.items())

    @classmethod
    def from_checkpoint(cls, shared: dict[str, Any], states: Mapping[SeriesKey, KeyState]
                        ) -> Detector:
        """The detector :meth:`shared_state` and :meth:`key_states` were taken from."""
        detector = cls.__new__(cls)
        detector.__setstate__(dict(shared))
        held: OrderedDict[SeriesKey, Any] = detector._table._states
        if len(held) != len(states) or any(key not in states for key in held):
            raise ValueError(f"{len(states)} key states for a key table of {len(held)} keys")
        for key in held:
            held[key] = states[key]  # in place: the table's order stays
        detector._changed = set()
        detector._table.dropped = set()
        return detector

    @staticmethod
    def checkpoint_objects(config: DetectionConfig) -> list[object]:
        """What every key state of ``config`` shares (pickled once, not once a key)."""
        return shared_objects(lambda: KeyState(config))


def _tracking(state: dict[str, Any]) -> None:
    """A detector pickled before change tracking existed: every key counts as changed."""
    upgrade_table(state["_table"])
    state.setdefault("_changed", set(state["_table"]))
