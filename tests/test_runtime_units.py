"""The streaming runtime's pieces that need no broker: records, checkpoints, resume, metrics."""

from __future__ import annotations

import json
import pickle
import sqlite3
import urllib.error
import urllib.request
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest
from swapwatch.detector.alerts.alert import Alert
from swapwatch.detector.calls import LlmCall
from swapwatch.detector.detection.config import DetectionConfig
from swapwatch.detector.detection.engine import Detector
from swapwatch.detector.detection.keys import SeriesKey
from swapwatch.detector.runtime.checkpoint import (
    DedupWindow,
    DirectoryStateStore,
    PartitionState,
    StateCorrupt,
    StateOutdated,
    checkpoint_due,
)
from swapwatch.detector.runtime.config import RuntimeConfig
from swapwatch.detector.runtime.deadletter import dead_letter_headers
from swapwatch.detector.runtime.keyrecords import SharedMemo
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


# --- incremental checkpoints (SQLite, one record per series key) -----------------------------

T0 = 1_772_400_000 * 10**9


def _fleet(config: DetectionConfig) -> list[LlmCall]:
    """Four keys: ``chat`` swaps a third of the way in; ``c`` goes idle early (swept); ``d``
    starts late."""
    from test_detection_engine import stream

    chat = stream(4000, seed=7, at=2500, swapped=True)
    other = [replace(c, surface="b") for c in stream(1500, seed=8, every_s=60.0)]
    idle = [replace(c, surface="c") for c in stream(300, seed=9)]
    late = [replace(c, surface="d", start_ns=c.start_ns + 36_000 * 10**9,
                    end_ns=c.end_ns + 36_000 * 10**9) for c in stream(300, seed=10)]
    return sorted(chat + other + idle + late, key=lambda c: c.end_ns)


def _rows(store: DirectoryStateStore, partition: int = 0) -> set[str]:
    with closing(sqlite3.connect(store.path("calls", partition))) as db:
        return {key for (key,) in db.execute("SELECT key FROM keys")}


def _dump(alerts: list[Alert]) -> list[dict[str, object]]:
    return [a.model_dump() for a in alerts]


def test_incremental_checkpoints_restore_the_detector_exactly(tmp_path: Path) -> None:
    config = DetectionConfig.model_validate({"keys": {"idle_evict_s": 3600}})
    calls = _fleet(config)
    detector = Detector(config)
    state = PartitionState.fresh("calls", 0, detector)
    store = DirectoryStateStore(tmp_path)
    cut = 3500  # the swap starts before, and is detected after
    for i, call in enumerate(calls[:cut]):
        detector.process(call)
        if i % 100 == 99:
            store.save(state)  # the first writes everything, the others what changed
    store.save(state)
    held = detector.keys()
    assert "c" not in {k.surface for k in held}, "the idle key must be swept"
    assert _rows(store) == {json.dumps(k, separators=(",", ":")) for k in held}  # c's deleted
    restored = DirectoryStateStore(tmp_path).load("calls", 0)
    assert restored is not None and restored.detector is not detector

    def rest(d: Detector) -> list[Alert]:
        out = [a for call in calls[cut:] for a in d.process(call)]
        return out + d.flush()

    expected = rest(detector)
    assert "swap" in {a.kind for a in expected}, "the continuation must raise the swap"
    assert _dump(rest(restored.detector)) == _dump(expected)


def test_a_checkpoint_writes_only_the_keys_touched(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    detector = Detector(DetectionConfig(reorder_window_s=0))
    for i in range(30):
        for surface in ("a", "b", "c", "d", "e"):
            detector.process(_call(i, surface=surface))
    state = PartitionState.fresh("calls", 0, detector)
    store = DirectoryStateStore(tmp_path)
    dumped: list[object] = []
    real = SharedMemo.dumps
    monkeypatch.setattr(SharedMemo, "dumps",
                        lambda self, obj: dumped.append(obj) or real(self, obj))
    store.save(state)
    assert len(dumped) == 5  # the first checkpoint: every key
    dumped.clear()
    detector.process(_call(31, surface="c"))
    store.save(state)
    assert dumped == [detector._table.get(SeriesKey.of(_call(31, surface="c")))]
    dumped.clear()
    store.save(state)
    assert dumped == []  # nothing changed: no key record written
    back = DirectoryStateStore(tmp_path).load("calls", 0)
    assert back is not None and back.detector.keys() == detector.keys()


def test_take_changes_reports_keys_dropped_when_full_or_idle() -> None:
    config = DetectionConfig.model_validate({"keys": {"max_keys": 2, "idle_evict_s": 3600},
                                             "reorder_window_s": 0})
    detector = Detector(config)
    for i, surface in enumerate("abc"):
        detector.process(_call(i, surface=surface))
    changed, removed = detector.take_changes()
    assert sorted(k.surface for k in changed) == ["b", "c"]
    assert sorted(k.surface for k in removed) == ["a"]  # made room for "c"
    assert detector.take_changes() == ({}, set())
    detector.process(_call(10_000, surface="b"))  # "c" idle for longer than an hour: swept
    changed, removed = detector.take_changes()
    assert [k.surface for k in changed] == ["b"] and [k.surface for k in removed] == ["c"]


def test_a_store_that_was_overtaken_rewrites_instead_of_mixing(tmp_path: Path) -> None:
    detector = Detector(DetectionConfig(reorder_window_s=0))
    for i, surface in enumerate("ab"):
        detector.process(_call(i, surface=surface))
    state = PartitionState.fresh("calls", 0, detector)
    zombie = DirectoryStateStore(tmp_path)
    zombie.save(state)
    other = DirectoryStateStore(tmp_path)  # the partition's next owner
    taken = other.load("calls", 0)
    assert taken is not None
    taken.detector.process(_call(5, surface="new"))
    other.save(taken)
    detector.process(_call(6, surface="a"))  # the old owner has not noticed yet
    zombie.save(state)  # must not apply its change on top of the other owner's file
    back = DirectoryStateStore(tmp_path).load("calls", 0)
    assert back is not None
    assert sorted(k.surface or "" for k in back.detector.keys()) == ["a", "b"]  # noqa: SIM118


def test_a_failed_checkpoint_leaves_the_last_one_and_the_next_is_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    detector = Detector(DetectionConfig(reorder_window_s=0))
    for i in range(20):
        for surface in "abc":
            detector.process(_call(i, surface=surface))
    state = PartitionState.fresh("calls", 0, detector)
    store = DirectoryStateStore(tmp_path)
    state.next_offset = 5
    store.save(state)
    for surface in "abc":
        detector.process(_call(30, surface=surface))
    state.next_offset = 9
    real, calls = SharedMemo.dumps, [0]

    def failing(self: SharedMemo, obj: object) -> bytes:
        calls[0] += 1
        if calls[0] == 2:
            raise OSError("disk full")
        return real(self, obj)

    monkeypatch.setattr(SharedMemo, "dumps", failing)
    with pytest.raises(OSError, match="disk full"):
        store.save(state)
    before = DirectoryStateStore(tmp_path).load("calls", 0)
    assert before is not None and before.next_offset == 5  # the last checkpoint, intact
    monkeypatch.setattr(SharedMemo, "dumps", real)
    store.save(state)  # the changes taken by the failed one are not lost: written whole
    after = DirectoryStateStore(tmp_path).load("calls", 0)
    assert after is not None and after.next_offset == 9
    whole = pickle.loads(pickle.dumps(detector))  # what a whole pickle restores
    assert [(k, pickle.dumps(s)) for k, s in after.detector.key_states()] \
        == [(k, pickle.dumps(s)) for k, s in whole.key_states()]


def test_restored_keys_share_what_live_keys_share(tmp_path: Path) -> None:
    detector = Detector(DetectionConfig(reorder_window_s=0))
    for i in range(20):
        for surface in "ab":
            detector.process(_call(i, surface=surface))
    DirectoryStateStore(tmp_path).save(PartitionState.fresh("calls", 0, detector))
    back = DirectoryStateStore(tmp_path).load("calls", 0)
    assert back is not None
    (_, a), (_, b) = back.detector.key_states()
    assert a.ledger.config is b.ledger.config is back.detector.config.ledger
    assert all(x.params is y.params for x, y in zip(
        (lr._test for lr in a.learners), (lr._test for lr in b.learners), strict=True))


def test_unreadable_or_outdated_state_is_set_aside_counted_and_started_fresh(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = DirectoryStateStore(tmp_path)
    store.path("calls", 0).write_bytes(b"garbage")
    old = PartitionState.fresh("calls", 1, CountingDetector())
    old.version = 1
    store.path("calls", 1).write_bytes(pickle.dumps(old))
    with pytest.raises(StateOutdated, match="v1"):
        store.load("calls", 1)
    owner = _owner(store, {})
    with caplog.at_level("ERROR"):
        assert owner.assign("calls", 0) is None and owner.assign("calls", 1) is None
    assert "state not restored" in caplog.text and "unreadable" in caplog.text
    discarded = owner.metrics.states_discarded
    assert discarded.labels(reason="unreadable")._value.get() == 1
    assert discarded.labels(reason="outdated")._value.get() == 1
    names = sorted(p.name for p in tmp_path.iterdir())
    assert [n.rsplit("-", 1)[0] for n in names] == ["calls-0.state.unreadable",
                                                      "calls-1.state.unreadable"]
    owner.checkpoint([("calls", 0)], "shutdown")
    assert store.load("calls", 0) is not None


def test_a_version_2_state_file_is_read_and_rewritten(tmp_path: Path) -> None:
    detector = Detector(DetectionConfig(reorder_window_s=0))
    for i in range(10):
        detector.process(_call(i))
    old = PartitionState.fresh("calls", 0, detector)
    old.version, old.next_offset = 2, 11
    store = DirectoryStateStore(tmp_path)
    store.path("calls", 0).write_bytes(pickle.dumps(old))  # what version 2 wrote
    state = store.load("calls", 0)
    assert state is not None and state.next_offset == 11 and state.detector.keys()
    store.save(state)
    assert store.path("calls", 0).read_bytes().startswith(b"SQLite format 3")
    again = DirectoryStateStore(tmp_path).load("calls", 0)
    assert again is not None and again.detector.keys() == detector.keys()
