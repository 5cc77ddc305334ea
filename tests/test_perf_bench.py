"""``swapwatch bench`` on tiny inputs: it runs and its figures are well formed (no timings are
asserted: speed is what the command prints, on a machine chosen by whoever runs it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from swapwatch.detector.cli import main
from swapwatch.detector.ingest.decode import calls_from_protobuf
from swapwatch.detector.perf.kafka import kafka_end_to_end
from swapwatch.detector.perf.keys import key_point, pickled_size
from swapwatch.detector.perf.run import capacity_plan
from swapwatch.detector.perf.traffic import (
    fleet_calls,
    otlp_messages,
    spans_in,
    tenants_for,
    warmup_calls,
    with_tenants,
)


@pytest.fixture(scope="module")
def calls() -> list:
    return fleet_calls(600, seed=1)


def _positive_rates(timing: dict) -> None:
    assert timing["wall_s"] > 0 and timing["cpu_s"] >= 0
    assert timing["spans_per_s_wall"] > 0


def test_messages_carry_every_call_with_its_attributes(calls: list) -> None:
    spread = with_tenants(calls, 3)
    messages = otlp_messages(spread, batch_size=64)
    assert [spans_in(m) for m in messages][:-1] == [64] * (len(messages) - 1)
    read = [c for m in messages for c in calls_from_protobuf(m)]
    assert len(read) == len(spread)
    by_id = {c.span_id: c for c in read}
    for original in spread[:50]:
        got = by_id[original.span_id]
        assert (got.tenant, got.surface, got.request_model, got.response_model,
                got.input_tokens, got.output_tokens, got.end_ns) == (
            original.tenant, original.surface, original.request_model,
            original.response_model, original.input_tokens, original.output_tokens,
            original.end_ns)
        assert got.dialect == "otel"


@pytest.mark.parametrize(("keys", "series", "tenants"),
                         [(100, 10, 10), (1000, 10, 100), (5, 10, 1), (105, 10, 10)])
def test_tenants_for_never_exceeds_the_key_count(keys: int, series: int, tenants: int) -> None:
    assert tenants_for(keys, series) == tenants


def test_warmup_is_in_event_time_and_staggered(calls: list) -> None:
    before = min(c.start_ns for c in calls)
    warm = list(warmup_calls(calls, tenants=2, per_key=20, before_ns=before, stagger=4))
    ends = [c.end_ns for c in warm]
    assert ends == sorted(ends) and ends[-1] < before
    per_key: dict[tuple, int] = {}
    for c in warm:
        key = (c.service, c.surface, c.tenant)
        per_key[key] = per_key.get(key, 0) + 1
    assert set(per_key.values()) == {20, 21, 22, 23}
    assert len({(c.trace_id, c.span_id) for c in warm}) == len(warm)


def test_key_point_measures_memory_of_warm_keys(calls: list) -> None:
    point = key_point(calls, calls[:200], keys=20, per_key=544, trace=True)
    assert point.keys == 20 and point.warm_keys == 20
    assert point.traced_per_key > 1000 and point.pickled_per_key > 1000
    assert point.replay.calls == 200 and point.floor.spans == 200 and point.ratio > 0


def test_pickled_size_counts_bytes() -> None:
    assert pickled_size({"a": list(range(1000))}) > 1000 > pickled_size(None)


@pytest.mark.parametrize(("per_day", "rate", "peak", "util", "replicas"), [
    (1e9, 5000, 3.0, 0.5, 14),
    (86_400, 1, 1.0, 1.0, 1),
    (86_400 * 10, 4, 2.0, 0.5, 10),
])
def test_capacity_plan(per_day: float, rate: float, peak: float, util: float,
                       replicas: int) -> None:
    assert capacity_plan(per_day, rate, peak, util)["replicas"] == replicas


def test_bench_command_prints_and_writes_figures(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    code = main(["bench", "--spans", "400", "--batch-size", "100", "--rounds", "1",
                 "--keys", "10,20", "--warm-calls", "32", "--key-spans", "100",
                 "--trace-keys", "10", "--json", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    for label in ("floor", "replay", "decode_extract", "detect", "records_hop", "keys",
                  "machine: ", "1e9 calls/day"):
        assert label in printed
    result = json.loads(out.read_text())
    assert result["input"]["spans"] == 400 and result["input"]["messages"] == 4
    _positive_rates(result["floor"])
    _positive_rates(result["replay"])
    assert result["replay"]["calls"] == 400 and result["replay"]["ratio_cpu"] > 0
    assert set(result["breakdown"]) == {"decode_extract", "detect", "records_hop"}
    points = result["keys"]
    assert [p["keys"] for p in points] == [10, 20]
    assert points[0]["traced_bytes_per_key"] > 0 and points[1]["traced_bytes_per_key"] == 0
    assert points[0]["vs_fewest_keys"] == 1.0
    assert all(p["pickled_bytes_per_key"] > 0 and p["replay"]["calls"] == 100 for p in points)
    assert "replay_pass" in result["profile"]["flat"]
    assert "kafka" not in result and result["machine"]["nproc"] >= 1


def test_bench_rejects_bad_key_counts(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["bench", "--keys", "ten"])
    assert "comma-separated" in capsys.readouterr().err


def test_kafka_backlog_reaches_detection(kafka_bootstrap: str, calls: list) -> None:
    messages = otlp_messages(calls[:300], batch_size=100)
    run = kafka_end_to_end(kafka_bootstrap, messages, spans=300, calls=300, partitions=2,
                           calls_partitions=2, timeout_s=120)
    assert run.complete and run.calls == 300
    assert run.produce.spans == 300 and run.produce.wall_s > 0
    assert run.consume_total.wall_s >= run.consume_steady.wall_s > 0
    assert run.to_dict()["consume_steady"]["spans_per_s_wall"] > 0
