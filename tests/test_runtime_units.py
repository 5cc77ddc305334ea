"""The streaming runtime's pieces that need no broker: records, checkpoints, resume, metrics."""

from __future__ import annotations

import pickle
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from swapwatch.detector.calls import LlmCall
from swapwatch.detector.runtime.checkpoint import (
    DedupWindow,
    DirectoryStateStore,
    PartitionState,
    StateCorrupt,
    checkpoint_due,
)
from swapwatch.detector.runtime.config import RuntimeConfig
from swapwatch.detector.runtime.deadletter import dead_letter_headers
from swapwatch.detector.runtime.metrics import MetricsServer, RuntimeMetrics
from swapwatch.detector.runtime.partitions import PartitionedDetection, Record
from swapwatch.detector.runtime.pipeline import CollectingSink, CountingDetector
from swapwatch.detector.runtime.records import (
    BadCallRecord,
    decode_calls,
    encode_call,
    encode_calls,
    partition_key,
)
from swapwatch.detector.runtime.repartition import EventTimeMerge


def _call(i: int, **kw: object) -> LlmCall:
    base = dict(start_ns=i * 10**9, end_ns=i * 10**9 + 5 * 10**8, trace_id=f"{i:032x}",
                span_id=f"{i:016x}", service="api", surface="chat", provider="openai",
                request_model="gpt-4o", environment="prod", output_tokens=10 + i,
                finish_reasons=("stop",), evaluations={"relevance": 0.5})
    base.update(kw)
    return LlmCall(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(("records", "seconds", "expected"), [
    (0, 0.0, None),
    (0, 999.0, None),  # nothing new: no checkpoint, however long
    (1, 9.9, None),
    (1, 10.0, "interval"),
    (4999, 0.0, None),
    (5000, 0.0, "calls"),
    (5000, 11.0, "calls"),
])
def test_checkpoint_due_table(records: int, seconds: float, expected: str | None) -> None:
    assert checkpoint_due(records, seconds, every_calls=5000, interval_s=10.0) == expected


def test_call_records_round_trip_and_reject_garbage() -> None:
    calls = [_call(1), _call(2, is_error=True, error_type="timeout")]
    assert decode_calls(encode_calls(calls)) == calls
    assert decode_calls(encode_call(calls[0])) == calls[:1]
    for bad, why in [(b"\xff\xfe", "not a JSON"), (b"[1]", "not an object"),
                     (b'{"start_ns": 1}', "incomplete"), (b'{"colour": 1}', "unknown")]:
        with pytest.raises(BadCallRecord, match=why):
            decode_calls(bad)


def test_partition_key_is_the_series_without_tenant() -> None:
    a, b = _call(1, tenant="t1"), _call(2, tenant="t2")
    assert partition_key(a, "series") == partition_key(b, "series")
    assert partition_key(a, "series") != partition_key(_call(1, surface="other"), "series")
    assert partition_key(_call(1, surface="other"), "provider") == b"openai"


def test_dedup_window_is_bounded_and_forgets_oldest() -> None:
    window = DedupWindow(capacity=3)
    assert [window.add(i) for i in (1, 2, 3, 1, 4)] == [True, True, True, False, True]
    assert len(window) == 3 and 1 not in window and 4 in window
    assert DedupWindow(0).add("x") and DedupWindow(0).add("x")  # disabled: keeps nothing


def test_state_store_is_atomic_and_refuses_corrupt_files(tmp_path: Path) -> None:
    store = DirectoryStateStore(tmp_path)
    state = PartitionState.fresh("calls", 1, CountingDetector())
    state.next_offset = 9
    store.save(state)
    assert [p.name for p in tmp_path.iterdir()] == ["calls-1.state"]  # no temp file left
    assert store.load("calls", 1).next_offset == 9  # type: ignore[union-attr]
    store.path("calls", 2).write_bytes(b"garbage")
    with pytest.raises(StateCorrupt, match=r"calls-2\.state"):
        store.load("calls", 2)
    store.path("calls", 3).write_bytes(pickle.dumps({"not": "a state"}))
    with pytest.raises(StateCorrupt, match="not a swapwatch partition state"):
        store.load("calls", 3)


def _owner(store: DirectoryStateStore, sinks: dict[int, CollectingSink],
           dead: list[tuple[int, str]] | None = None, **config: object) -> PartitionedDetection:
    def sink(topic: str, partition: int) -> CollectingSink:
        sinks[partition] = CollectingSink()
        return sinks[partition]

    def dead_letter(record: Record, reason: str, topic: str, partition: int, kind: str) -> None:
        if dead is not None:
            dead.append((record.offset, kind))

    return PartitionedDetection(store, CountingDetector, sink, config=RuntimeConfig(**config),
                                dead_letter=dead_letter)


def test_resume_neither_loses_nor_double_counts(tmp_path: Path) -> None:
    store = DirectoryStateStore(tmp_path)
    records = [Record(i, None, encode_calls([_call(i)])) for i in range(10)]
    first = _owner(store, {})
    assert first.assign("calls", 0) is None
    first.process("calls", 0, records[:4])
    first.checkpoint([("calls", 0)], "calls")
    first.process("calls", 0, records[4:7])  # processed, never checkpointed: a crash follows

    second = _owner(store, {})
    assert second.assign("calls", 0) == 4  # resume after the checkpoint, not the crash
    # the group's committed offset may be older still: records already in the state are skipped
    second.process("calls", 0, records[2:])
    state = second.owned[("calls", 0)].state
    assert state.detector.calls == 10 and state.next_offset == 10


def test_redelivered_calls_are_dropped_by_span_id(tmp_path: Path) -> None:
    owner = _owner(DirectoryStateStore(tmp_path), {})
    owner.assign("calls", 0)
    once = encode_calls([_call(1), _call(2)])
    owner.process("calls", 0, [Record(0, None, once), Record(1, None, once)])
    assert owner.owned[("calls", 0)].state.detector.calls == 2
    assert owner.metrics.duplicates._value.get() == 2


def test_bad_records_are_dead_lettered_and_the_partition_goes_on(tmp_path: Path) -> None:
    dead: list[tuple[int, str]] = []
    owner = _owner(DirectoryStateStore(tmp_path), {}, dead)
    owner.assign("calls", 0)
    owner.process("calls", 0, [Record(0, None, b"junk"), Record(1, None, None),
                               Record(2, None, encode_calls([_call(5)]))])
    assert dead == [(0, "bad_call_record"), (1, "bad_call_record")]
    assert owner.owned[("calls", 0)].state.next_offset == 3
    assert owner.owned[("calls", 0)].state.detector.calls == 1


def test_lost_partition_is_not_written(tmp_path: Path) -> None:
    store = DirectoryStateStore(tmp_path)
    owner = _owner(store, {})
    owner.assign("calls", 0)
    owner.process("calls", 0, [Record(0, None, encode_calls([_call(1)]))])
    owner.discard("calls", 0)
    assert store.load("calls", 0) is None and not owner.owned
    owner.assign("calls", 0)
    owner.release("calls", 0)
    assert store.load("calls", 0) is not None


def test_event_time_merge_waits_for_the_slowest_active_partition() -> None:
    merge = EventTimeMerge()
    for partition, offset, end in [("a", 0, 1), ("a", 1, 5), ("b", 0, 3), ("b", 1, 8)]:
        merge.hold(partition, offset, f"{partition}{end}", end)
    assert merge.release({"a": 5, "b": None}) == []  # b's reader has told us nothing yet
    assert merge.release({"a": 5, "b": 8}) == ["a1", "b3", "a5"]
    assert merge.first_held_offset("b") == 1 and merge.first_held_offset("a") is None
    assert merge.release({"a": 5, "b": 8}, force=1) == ["b8"]  # the bound wins


def test_metrics_and_health_endpoints() -> None:
    metrics = RuntimeMetrics()
    metrics.alerts.labels(kind="identity").inc(2)
    healthy = [True]
    server = MetricsServer(metrics, "127.0.0.1", 0, lambda: (healthy[0], "why"))
    try:
        base = f"http://127.0.0.1:{server.port}"
        body = urllib.request.urlopen(f"{base}/metrics", timeout=5).read().decode()
        assert 'swapwatch_alerts_total{kind="identity"} 2.0' in body
        assert urllib.request.urlopen(f"{base}/healthz", timeout=5).status == 200
        healthy[0] = False
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{base}/healthz", timeout=5)
        assert err.value.code == 503
    finally:
        server.close()


def test_dead_letter_headers_bound_the_reason() -> None:
    headers = dict(dead_letter_headers("x" * 5000, "decode", "t", 1, 2))
    assert len(headers["swapwatch.error.reason"]) == 1024
    assert headers["swapwatch.source.partition"] == b"1"
