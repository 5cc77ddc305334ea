"""The calls-topic hop without a broker: record format v2 (and v1 still read), the event-time
merge against a reference heap, the dedup window's compact checkpoint form."""

from __future__ import annotations

import heapq
import itertools
import json
import pickle
import random
from collections import Counter, OrderedDict
from dataclasses import fields
from typing import Any

import orjson
import pytest
from swapwatch.detector.calls import LlmCall
from swapwatch.detector.runtime.config import RuntimeConfig
from swapwatch.detector.runtime.deadletter import DeadLetters
from swapwatch.detector.runtime.dedup import DedupWindow
from swapwatch.detector.runtime.metrics import RuntimeMetrics
from swapwatch.detector.runtime.partitions import Record
from swapwatch.detector.runtime.records import (
    RECORD_CONTENT_TYPE,
    BadCallRecord,
    decode_call,
    decode_calls,
    encode_calls,
)
from swapwatch.detector.runtime.repartition import EventTimeMerge, Repartitioner

NAMES = [f.name for f in fields(LlmCall)]


def _calls() -> list[LlmCall]:
    return [
        LlmCall(start_ns=1, end_ns=2),
        LlmCall(start_ns=1_772_409_607_074_929_920, end_ns=1_772_409_608_190_303_364,
                trace_id="981a727c76e1f5c046e5a1fec0ac87cb", span_id="1514a975e6a51740",
                service="support-api", environment="prod", surface="chat", tenant="acme",
                provider="openai", request_model="gpt-4o", response_model="gpt-4o-2024-08-06",
                input_tokens=812, output_tokens=64, finish_reasons=("stop", "length"),
                time_to_first_chunk_s=0.25, streaming=True, cost_usd=0.0012, is_error=False,
                evaluations={"relevance": 0.5, "tone": 1.0}, dialect="otel"),
        LlmCall(start_ns=5, end_ns=9, is_error=True, error_type="timeout", finish_reasons=(),
                service="naïve ✓"),
    ]


def _v1(calls: list[LlmCall]) -> bytes:
    """A record as format v1 wrote it: objects without their ``None`` fields."""
    bodies = [{k: v for k, v in c.to_dict().items() if v is not None and v != {}} for c in calls]
    return json.dumps(bodies if len(bodies) > 1 else bodies[0], ensure_ascii=False).encode()


def test_v2_round_trips_every_field() -> None:
    calls = _calls()
    raw = encode_calls(calls)
    assert orjson.loads(raw)["v"] == 2
    assert decode_calls(raw) == calls
    assert [type(c.finish_reasons) for c in decode_calls(raw)] == [type(None), tuple, tuple]


def test_v1_records_are_still_read() -> None:
    calls = _calls()
    assert decode_calls(_v1(calls)) == calls
    assert decode_call(_v1(calls[1:2])) == calls[1]


def test_v2_rows_are_mapped_by_field_name_when_the_writer_had_other_fields() -> None:
    call = _calls()[1]
    names = list(reversed(NAMES[:-1]))  # another order, and no "dialect"
    row = [getattr(call, n) for n in names]
    raw = orjson.dumps({"v": 2, "fields": names, "calls": [row]})
    (back,) = decode_calls(raw)
    assert back == LlmCall(**{**{n: getattr(call, n) for n in NAMES}, "dialect": None})


@pytest.mark.parametrize(("body", "why"), [
    ({"v": 3, "fields": NAMES, "calls": []}, "not a v2"),
    ({"v": 2, "calls": []}, "not a v2"),
    ({"v": 2, "fields": NAMES, "calls": [], "extra": 1}, "not a v2"),
    ({"v": 2, "fields": NAMES, "calls": {}}, "not arrays"),
    ({"v": 2, "fields": NAMES, "calls": [{"start_ns": 1}]}, "not a row"),
    ({"v": 2, "fields": NAMES, "calls": [[1, 2]]}, "not a row"),
    ({"v": 2, "fields": NAMES, "calls": [["1", 2, *[None] * (len(NAMES) - 2)]]}, "integers"),
    ({"v": 2, "fields": NAMES, "calls": [[1, 2.5, *[None] * (len(NAMES) - 2)]]}, "integers"),
    ({"v": 2, "fields": ["start_ns", "colour"], "calls": [[1, 2]]}, "unknown call fields"),
    ({"v": 2, "fields": ["start_ns"], "calls": [[1]]}, "incomplete"),
    ({"v": 2, "fields": [1, 2], "calls": [[1, 2]]}, "not a string"),
    ({"v": 2, "fields": ["start_ns", "end_ns"], "calls": [[1]]}, "not a row"),
])
def test_garbage_v2_records_are_bad_call_records(body: dict[str, Any], why: str) -> None:
    with pytest.raises(BadCallRecord, match=why):
        decode_calls(orjson.dumps(body))


def test_finish_reasons_that_are_not_arrays_are_bad_call_records() -> None:
    row = [1, 2, *[None] * (len(NAMES) - 2)]
    row[NAMES.index("finish_reasons")] = 5
    with pytest.raises(BadCallRecord, match="finish_reasons"):
        decode_calls(orjson.dumps({"v": 2, "fields": NAMES, "calls": [row]}))
    with pytest.raises(BadCallRecord, match="finish_reasons"):
        decode_calls(b'{"start_ns": 1, "end_ns": 2, "finish_reasons": 5}')


def test_undecodable_bytes_are_bad_call_records() -> None:
    for raw in (b"", b"\xff\xfe", b"{", b"[1]", b"null"):
        with pytest.raises(BadCallRecord):
            decode_calls(raw)


class _Future:
    def succeeded(self) -> bool:
        return True


class _Producer:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, topic: str, **kw: Any) -> _Future:
        self.sent.append({"topic": topic, **kw})
        return _Future()

    def flush(self, timeout: float | None = None) -> None:
        pass


def test_repartition_sends_v2_records_with_their_content_type() -> None:
    calls = [LlmCall(start_ns=i, end_ns=i + 1, service="api", trace_id=f"{i:x}", span_id="s")
             for i in range(1200)]
    producer = _Producer()
    metrics = RuntimeMetrics()
    stage = Repartitioner(RuntimeConfig(), producer, DeadLetters(producer, "dlq", metrics),
                          metrics, decode=lambda raw, config, stats: calls)
    stage.handle("spans-0", [Record(7, None, b"spans")])  # type: ignore[arg-type]
    assert stage.produce_released([]) == 1200
    assert [len(decode_calls(s["value"])) for s in producer.sent] == [500, 500, 200]
    assert all(s["headers"] == [("content-type", RECORD_CONTENT_TYPE)] for s in producer.sent)
    assert [c for s in producer.sent for c in decode_calls(s["value"])] == calls
    assert stage.offsets_to_commit() == {"spans-0": 8}


class _HeapMerge:
    """The event-time merge as it was (one heap entry per item): the reference."""

    def __init__(self) -> None:
        self.heap: list[tuple[int, int, Any, int, Any]] = []
        self.seq = itertools.count()
        self.offsets: dict[Any, Counter[int]] = {}

    def hold(self, partition: Any, offset: int, item: Any, end_ns: int) -> None:
        heapq.heappush(self.heap, (end_ns, next(self.seq), partition, offset, item))
        self.offsets.setdefault(partition, Counter())[offset] += 1

    def release(self, active: dict[Any, int | None], force: int = 0) -> list[Any]:
        marks = list(active.values())
        low = None if None in marks else min(marks, default=None)  # type: ignore[type-var]
        out = []
        while self.heap and (force > 0 or not marks or (low is not None
                                                         and self.heap[0][0] <= low)):
            _, _, partition, offset, item = heapq.heappop(self.heap)
            self.offsets[partition][offset] -= 1
            if self.offsets[partition][offset] == 0:
                del self.offsets[partition][offset]
            out.append(item)
            force -= 1
        return out

    def first_held_offset(self, partition: Any) -> int | None:
        held = self.offsets.get(partition)
        return min(held) if held else None


@pytest.mark.parametrize("seed", range(20))
def test_event_time_merge_releases_what_the_heap_released_in_its_order(seed: int) -> None:
    rng = random.Random(seed)
    merge, reference = EventTimeMerge(), _HeapMerge()
    offsets = {p: 0 for p in "abc"}
    for _ in range(60):
        partition = rng.choice("abc")
        offset = offsets[partition]
        offsets[partition] += 1
        ends = [rng.randrange(0, 50) for _ in range(rng.randrange(0, 6))]  # ties on purpose
        items = [(partition, offset, i) for i in range(len(ends))]
        merge.hold_many(partition, offset, items, ends)
        for item, end in zip(items, ends, strict=True):
            reference.hold(partition, offset, item, end)
        if rng.random() < 0.4:
            active: dict[Any, int | None] = {p: rng.choice([None, *range(0, 50, 5)])
                                             for p in rng.sample("abc", rng.randrange(0, 4))}
            force = rng.choice([0, 0, 1, 3])
            assert merge.release(active, force) == reference.release(active, force)
            assert len(merge) == len(reference.heap)
            for p in "abc":
                assert merge.first_held_offset(p) == reference.first_held_offset(p)
    assert merge.release({}) == reference.release({})
    assert len(merge) == 0 and merge.first_held_offset("a") is None


def test_dedup_window_checkpoints_pairs_compactly_and_anything_else_as_it_is() -> None:
    pairs = DedupWindow(capacity=1000)
    for i in range(1500):
        pairs.add((f"{i:032x}", f"{i:016x}"))
    assert "pairs" in pairs.__getstate__()
    back = pickle.loads(pickle.dumps(pairs))
    assert len(back) == 1000 and back.capacity == 1000
    assert (f"{0:032x}", f"{0:016x}") not in back and (f"{999:032x}", f"{999:016x}") in back
    assert not back.add((f"{1499:032x}", f"{1499:016x}"))
    assert back.add((f"{0:032x}", f"{0:016x}"))  # forgotten, so new again
    for odd in (["a", "b"], [("a\nb", "c"), ("d", "e")], [("a", 1)], [("a", "b", "c")], []):
        window = DedupWindow(capacity=10)
        for identity in odd:
            window.add(identity)
        assert "pairs" not in window.__getstate__()
        again = pickle.loads(pickle.dumps(window))
        assert list(again._order) == odd and all(i in again for i in odd)


def test_dedup_window_reads_the_state_it_had_as_an_ordered_dict() -> None:
    old = DedupWindow.__new__(DedupWindow)
    old.__setstate__({"capacity": 2, "_seen": OrderedDict.fromkeys([("t", "1"), ("t", "2")])})
    assert ("t", "1") in old and len(old) == 2
    assert old.add(("t", "3")) and ("t", "1") not in old  # the oldest still goes first
