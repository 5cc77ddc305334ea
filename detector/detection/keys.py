"""``SeriesKey``: which series a call belongs to, and the bounded table of live series.

A series is one (service, surface, provider, requested model, environment[, tenant]): the
unit whose behaviour should stay the same while its model identifier does. Keys appear as
traffic arrives; the table keeps at most ``max_keys`` of them and drops a key that has been
silent for ``idle_evict_s`` of event time (or the idlest one when full).

>>> from swapwatch.detector.calls import LlmCall
>>> call = LlmCall(start_ns=0, end_ns=1, service="api", surface="chat", provider="openai",
...                request_model="gpt-4o", environment="prod")
>>> key = SeriesKey.of(call)
>>> key.slug()
'api/chat/openai/gpt-4o/prod'
>>> table = KeyTable(max_keys=2, idle_evict_ns=10)
>>> table.get_or_create(key, now_ns=0, factory=dict)
{}
>>> _ = table.get_or_create(key._replace(surface="b"), now_ns=5, factory=dict)
>>> _ = table.get_or_create(key._replace(surface="c"), now_ns=6, factory=dict)  # full
>>> [k.surface for k in table]  # the idlest key ("chat") made room
['b', 'c']
>>> [k.surface for k, _ in table.evict_idle(now_ns=15.5)]
['b']
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Generic, NamedTuple, TypeVar

from swapwatch.detector.alerts.alert import AlertKey
from swapwatch.detector.calls import LlmCall

S = TypeVar("S")


class SeriesKey(NamedTuple):
    """The identity of one series. ``None`` parts are simply absent from the span."""

    service: str | None
    surface: str | None
    provider: str | None
    request_model: str | None
    environment: str | None
    tenant: str | None = None

    @classmethod
    def of(cls, call: LlmCall, include_tenant: bool = True) -> SeriesKey:
        return cls(
            call.service,
            call.surface,
            call.provider,
            call.request_model,
            call.environment,
            call.tenant if include_tenant else None,
        )

    def interned(self) -> SeriesKey:
        """The same key holding interned strings: a new key kept for good shares its service,
        model and provider names with every other key instead of holding its own copies."""
        return SeriesKey(*(None if part is None else sys.intern(part) for part in self))

    def alert_key(self) -> AlertKey:
        return AlertKey(
            service=self.service,
            surface=self.surface,
            provider=self.provider,
            request_model=self.request_model,
            environment=self.environment,
            tenant=self.tenant,
        )

    def slug(self) -> str:
        parts = [self.service, self.surface, self.provider, self.request_model, self.environment]
        if self.tenant:
            parts.append(self.tenant)
        return "/".join(p or "-" for p in parts)


class KeyTable(Generic[S]):
    """Per-key state in least-recently-seen order; O(1) per call, eviction in event time."""

    def __init__(self, max_keys: int, idle_evict_ns: float) -> None:
        self.max_keys = max_keys
        self.idle_evict_ns = idle_evict_ns
        self._states: OrderedDict[SeriesKey, S] = OrderedDict()
        self._last_seen: dict[SeriesKey, int] = {}
        self.evicted = 0

    def get_or_create(self, key: SeriesKey, now_ns: int, factory: Callable[[], S]) -> S:
        state = self._states.get(key)
        if state is None:
            if len(self._states) >= self.max_keys:
                old, _ = self._states.popitem(last=False)
                del self._last_seen[old]
                self.evicted += 1
            state = factory()
            self._states[key] = state
        else:
            self._states.move_to_end(key)
        # out-of-order spans must not move a key's clock backwards
        if now_ns > self._last_seen.get(key, -1):
            self._last_seen[key] = now_ns
        return state

    def touch(self, key: SeriesKey, now_ns: int) -> None:
        """Mark an existing key as seen at ``now_ns`` (most recently used)."""
        self._states.move_to_end(key)
        if now_ns > self._last_seen[key]:
            self._last_seen[key] = now_ns

    def get(self, key: SeriesKey) -> S | None:
        return self._states.get(key)

    def evict_idle(self, now_ns: float) -> list[tuple[SeriesKey, S]]:
        """Drop keys silent for longer than ``idle_evict_ns``; returns what was dropped."""
        dropped: list[tuple[SeriesKey, S]] = []
        while self._states:
            key = next(iter(self._states))
            if now_ns - self._last_seen[key] <= self.idle_evict_ns:
                break
            dropped.append((key, self._states.pop(key)))
            del self._last_seen[key]
        self.evicted += len(dropped)
        return dropped

    def last_seen_ns(self, key: SeriesKey) -> int | None:
        return self._last_seen.get(key)

    def items(self) -> Iterator[tuple[SeriesKey, S]]:
        return iter(self._states.items())

    def __iter__(self) -> Iterator[SeriesKey]:
        return iter(self._states)

    def __len__(self) -> int:
        return len(self._states)
