"""Correlation decisions: pure functions of the shifts of one key (and of its peers).

* :func:`cluster` — the largest set of shifts whose estimated starts lie within a window of
  each other (in calls of the key, or in event time for slow series).
* :func:`swap_signals` — which shifted signals count towards a ``swap``. Load and provider
  incidents move timing (latency, ttft, decode_rate) and errors together without any change
  of model, so those *load* signals alone never make a swap unless the key's peers (other keys
  of the same provider) stayed quiet for ``peer_wait_requests`` calls — the control that
  separates "this key's host or model size changed" from "the provider is slow today".
  During a provider incident the load signals do not count at all.
* :func:`is_incident` — most active keys of one provider shifted timing at once.

>>> s = [Shift("decode_rate", 0, 100, 180), Shift("output_tokens", 0, 110, 200),
...      Shift("cost", 0, 96, 170), Shift("latency", 0, 104, 190)]
>>> swap_signals(s, incident=False, peers_shifted=True, waited_requests=0, min_signals=3,
...              window_requests=240, window_ns=0, peer_wait_requests=48)
['cost', 'decode_rate', 'latency', 'output_tokens']
>>> swap_signals(s, incident=True, peers_shifted=True, waited_requests=0, min_signals=3,
...              window_requests=240, window_ns=0, peer_wait_requests=48)
[]
"""

from __future__ import annotations

from typing import NamedTuple

from swapwatch.detector.detection.signals import LOAD_SIGNALS


class Shift(NamedTuple):
    signal: str
    started_ns: int
    started_index: int
    detected_index: int


def cluster(shifts: list[Shift], window_requests: int, window_ns: float) -> list[Shift]:
    """Largest group of shifts starting within the window after the group's first start.

    >>> a, b, c = Shift("a", 0, 0, 9), Shift("b", 0, 50, 60), Shift("c", 10**12, 900, 950)
    >>> [s.signal for s in cluster([c, b, a], window_requests=100, window_ns=0)]
    ['a', 'b']
    """
    ordered = sorted(shifts, key=lambda s: (s.started_index, s.started_ns, s.signal))
    best: list[Shift] = []
    for i, first in enumerate(ordered):
        group = [
            s for s in ordered[i:]
            if s.started_index - first.started_index <= window_requests
            or s.started_ns - first.started_ns <= window_ns
        ]
        if len(group) > len(best):
            best = group
    return best


def swap_signals(
    shifts: list[Shift],
    *,
    incident: bool,
    peers_shifted: bool,
    waited_requests: int,
    min_signals: int,
    window_requests: int,
    window_ns: float,
    peer_wait_requests: int,
) -> list[str]:
    """Signals that make a swap now, or ``[]`` (see the module docstring).

    ``waited_requests``: calls of the key since the group's last detection; a timing-only
    group waits ``peer_wait_requests`` so that peers slower to detect an incident can speak.

    >>> timing = [Shift(n, 0, 10, 90) for n in ("latency", "ttft", "decode_rate")]
    >>> kw = dict(incident=False, min_signals=3, window_requests=240, window_ns=0,
    ...           peer_wait_requests=48)
    >>> swap_signals(timing, peers_shifted=True, waited_requests=100, **kw)  # provider-wide
    []
    >>> swap_signals(timing, peers_shifted=False, waited_requests=10, **kw)  # peers may speak
    []
    >>> swap_signals(timing, peers_shifted=False, waited_requests=100, **kw)
    ['decode_rate', 'latency', 'ttft']
    """
    group = cluster(shifts, window_requests, window_ns)
    names = {s.signal for s in group}
    if incident:
        names -= LOAD_SIGNALS
    if len(names) < min_signals:
        return []
    if not names - LOAD_SIGNALS and (peers_shifted or waited_requests < peer_wait_requests):
        return []
    return sorted(names)


def is_incident(shifted_keys: int, active_keys: int, min_keys: int, fraction: float) -> bool:
    """Most active keys of a provider shifted timing together.

    >>> is_incident(3, 4, 2, 0.5), is_incident(1, 1, 2, 0.5), is_incident(2, 10, 2, 0.5)
    (True, False, False)
    """
    return shifted_keys >= min_keys and shifted_keys >= fraction * max(active_keys, 1)
