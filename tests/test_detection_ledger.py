"""The regime ledger: regimes between change points, what served each, and ``swapwatch regimes``."""

from __future__ import annotations

import json
import pickle
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from swapwatch.detector.calls import LlmCall
from swapwatch.detector.cli import main
from swapwatch.detector.detection.config import DetectionConfig
from swapwatch.detector.detection.engine import Detector
from swapwatch.detector.detection.keys import SeriesKey
from swapwatch.detector.detection.ledger import OTHER, LedgerConfig, Regime, RegimeLedger
from swapwatch.detector.detection.logcodes import code_value, log_code

S = 10**9


def call(t_s: float, served: str = "gpt-4o-2024-08-06", fingerprint: str | None = "fp_a",
         tokens: int = 200, decode_tps: float = 50.0, **fields: object) -> LlmCall:
    end = int(t_s * S)
    return LlmCall(start_ns=end - int((0.5 + tokens / decode_tps) * S), end_ns=end,
                   request_model="gpt-4o", response_model=served, system_fingerprint=fingerprint,
                   output_tokens=tokens, time_to_first_chunk_s=0.5, **fields)  # type: ignore[arg-type]


def two_regimes(tail_calls: int, change_at: int = 200, total: int = 300) -> RegimeLedger:
    """Calls 0..total-1 one per second; from ``change_at`` another artifact; the change is
    reported only after all of them (detection is late)."""
    ledger = RegimeLedger(LedgerConfig(tail_calls=tail_calls))
    for t in range(total):
        if t < change_at:
            ledger.observe(call(t, fingerprint="fp_a", tokens=300, decode_tps=40))
        else:
            ledger.observe(call(t, served="gpt-4o-mini-2024-07-18", fingerprint="fp_b",
                                tokens=150, decode_tps=90))
    ledger.close_regime(change_at * S, "swap", ["decode_rate", "fingerprint", "output_tokens"],
                        detected_ns=total * S)
    return ledger


@pytest.mark.parametrize(("t_s", "index"), [
    (-1, None),  # before the first call
    (0, 0), (150, 0), (199.9, 0),
    (200, 1), (299, 1), (10_000, 1),  # the open regime answers for later times too
])
def test_regime_at(t_s: float, index: int | None) -> None:
    found = two_regimes(tail_calls=256).regime_at(int(t_s * S))
    assert (found.index if found else None) == index


def test_late_detection_within_the_tail_splits_exactly() -> None:
    old, new = two_regimes(tail_calls=256).regimes()
    assert (old.calls, new.calls) == (200, 100)
    assert old.fingerprints == {"fp_a": 200} and new.fingerprints == {"fp_b": 100}
    assert old.served_models == {"gpt-4o-2024-08-06": 200}
    assert new.served_models == {"gpt-4o-mini-2024-07-18": 100}
    assert (old.end_ns, new.start_ns, new.end_ns) == (200 * S, 200 * S, None)
    assert old.mixed_calls == 0 and new.opened_by == "swap"
    assert new.opened_signals == ["decode_rate", "fingerprint", "output_tokens"]
    assert new.detected_ns == 300 * S
    assert old.median_decode_rate == pytest.approx(40, rel=0.03)
    assert new.median_decode_rate == pytest.approx(90, rel=0.03)
    assert (old.median_output_tokens, new.median_output_tokens) == (
        pytest.approx(300, rel=0.03), pytest.approx(150, rel=0.03))


@pytest.mark.parametrize("spacing_s", [1.0, 97.0])  # the tail spans minutes / hours
def test_late_split_is_exact_however_long_the_tail_spans(spacing_s: float) -> None:
    ledger = RegimeLedger(LedgerConfig(tail_calls=64))
    for i in range(500):
        ledger.observe(call(i * spacing_s, fingerprint="fp_a" if i < 450 else "fp_b"))
    ledger.close_regime(int(450 * spacing_s * S), "swap", ["fingerprint"],
                        detected_ns=int(500 * spacing_s * S))
    old, new = ledger.regimes()
    assert (old.calls, new.calls) == (450, 50)
    assert (old.fingerprints, new.fingerprints) == ({"fp_a": 450}, {"fp_b": 50})
    assert old.first_call_ns == 0 and old.last_call_ns == int(449 * spacing_s * S)
    assert (new.first_call_ns, new.last_call_ns) == (int(450 * spacing_s * S),
                                                     int(499 * spacing_s * S))


def test_detection_later_than_the_tail_is_reported_as_mixed() -> None:
    old, new = two_regimes(tail_calls=16).regimes()
    misplaced = old.calls - 200  # calls of the new artifact folded before the change was known
    assert misplaced > 0
    assert old.fingerprints["fp_b"] == misplaced
    assert old.mixed_calls == pytest.approx(misplaced, abs=10)
    assert old.calls + new.calls == 300


def test_history_is_bounded() -> None:
    ledger = RegimeLedger(LedgerConfig(max_regimes=3, tail_calls=32))
    for regime in range(10):
        for i in range(50):
            ledger.observe(call(regime * 100 + i, fingerprint=f"fp_{regime}"))
        ledger.close_regime((regime * 100 + 60) * S, "swap", ["fingerprint"])
    kept = ledger.regimes()
    assert [r.index for r in kept] == [7, 8, 9, 10]
    assert ledger.dropped_regimes == 7
    assert ledger.regime_at(150 * S) is None  # dropped: the answer is "not kept", not a guess
    assert ledger.regime_at(850 * S).fingerprints == {"fp_8": 50}


def test_values_per_regime_and_value_codes_are_bounded() -> None:
    ledger = RegimeLedger(LedgerConfig(max_values=4, tail_calls=64))
    for i in range(2000):  # a new fingerprint on every call
        ledger.observe(call(i, fingerprint=f"fp_{i}"))
    (regime,) = ledger.regimes()
    assert regime.calls == 2000
    assert len(regime.fingerprints) == 5 and regime.fingerprints[OTHER] == 1996
    assert len(ledger._fingerprints.values) <= 255  # byte codes, compacted when full
    assert len(pickle.dumps(ledger)) < 8_000


def test_a_second_alert_about_the_same_change_adds_signals_only() -> None:
    ledger = two_regimes(tail_calls=256)
    ledger.close_regime(150 * S, "swap", ["cost"])  # began before the open regime did
    regimes = ledger.regimes()
    assert len(regimes) == 2
    assert regimes[1].opened_signals == ["cost", "decode_rate", "fingerprint", "output_tokens"]


def test_regime_is_json_and_ledger_pickles() -> None:
    ledger = two_regimes(tail_calls=64)
    resumed = pickle.loads(pickle.dumps(ledger))
    assert resumed.regimes() == ledger.regimes()
    for regime in ledger.regimes():
        doc = json.loads(regime.model_dump_json())
        assert doc["start"].endswith("Z")
        assert Regime.model_validate(doc) == regime
    resumed.observe(call(400, fingerprint="fp_c"))
    assert resumed.regimes()[-1].calls == ledger.regimes()[-1].calls + 1


def test_log_codes_round_trip_within_their_bin() -> None:
    rng = random.Random(0)
    for _ in range(1000):
        x = rng.lognormvariate(3, 2)
        assert code_value(log_code(x)) == pytest.approx(x, rel=0.026) or x < 0.4 or x > 1e5
    assert log_code(None) == 0 and log_code(0) == 0 and log_code(-3) == 0


def test_engine_keeps_a_ledger_per_key_and_closes_on_identity() -> None:
    detector = Detector(DetectionConfig())
    key = dict(service="api", surface="chat", provider="openai", environment="prod")
    for t in range(300):
        detector.process(call(t * 10, **key))
    for t in range(300, 400):
        detector.process(call(t * 10, served="gpt-4o-mini-2024-07-18", fingerprint="fp_m",
                              **key))
    detector.flush()
    ledger = detector.ledger(SeriesKey("api", "chat", "openai", "gpt-4o", "prod"))
    assert ledger is not None
    before, after = ledger.regimes()
    assert before.served_models == {"gpt-4o-2024-08-06": 300}
    assert after.served_models == {"gpt-4o-mini-2024-07-18": 100}
    assert after.opened_by == "identity" and after.start_ns == 3000 * S
    assert detector.ledger(SeriesKey("x", "y", "z", "w", None)) is None


# -- swapwatch regimes ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def failover_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """Simulated OTLP spans of the chat surface: gpt-4o, then fully failed over to gpt-4-turbo."""
    from swapwatch.detector.simulator.generate import generate
    from swapwatch.detector.simulator.spans import SpanWriter
    from swapwatch.detector.simulator.suite import build_scenario

    scenario = build_scenario("honest-failover", variant="100%", seed=1, days=1.5)
    path = tmp_path_factory.mktemp("regimes") / "spans.jsonl"
    with path.open("wb") as stream, SpanWriter(stream) as writer:
        generate(scenario, lambda c: writer.write(c) if c.surface in (
            "chat-assistant", "classify") else None)
    return path, scenario.start.timestamp() + scenario.changes[0].at_s


def _regimes(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["regimes", *args])
    return code, capsys.readouterr().out


def test_regimes_command_lists_and_answers_at(failover_file: tuple[Path, float],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path, change_s = failover_file
    code, out = _regimes(capsys, "--input", str(path), "--json")
    assert code == 0
    keys = {k["key"]["surface"]: k for k in json.loads(out)["keys"]}
    assert set(keys) == {"chat-assistant", "classify"}
    chat = keys["chat-assistant"]["regimes"]
    assert len(chat) >= 2 and chat[0]["opened_by"] == "start"
    assert set(chat[0]["served_models"]) == {"gpt-4o-2024-08-06"}
    failover = next(r for r in chat if r["opened_by"] == "identity")
    assert failover["start_ns"] == pytest.approx(change_s * S, abs=600 * S)
    assert "gpt-4-turbo" in next(iter(failover["served_models"]))
    assert len(keys["classify"]["regimes"]) == 1  # nothing changed there

    when = datetime.fromtimestamp(change_s - 3600, tz=UTC).isoformat().replace("+00:00", "Z")
    code, out = _regimes(capsys, "--input", str(path), "--key",
                         "surface=chat-assistant,request_model=gpt-4o", "--at", when)
    assert code == 0
    title, header, row = out.splitlines()
    assert title == f"support-api/chat-assistant/openai/gpt-4o/prod at {when}"
    assert header.split()[:4] == ["#", "start", "end", "calls"]
    assert row.split()[0] == "0" and "gpt-4o-2024-08-06 100%" in row and "open" not in row


def test_regimes_command_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from swapwatch.detector.simulator.spans import SpanWriter

    path = tmp_path / "spans.jsonl"
    with path.open("wb") as stream, SpanWriter(stream) as writer:
        for t in range(3):
            writer.write(call(1000 + t, service="api", surface="chat", provider="openai",
                              trace_id=f"{t + 1:032x}", span_id=f"{t + 1:016x}"))
    assert main(["regimes", "--input", str(path), "--key", "colour=red"]) == 2
    assert main(["regimes", "--input", str(path), "--at", "yesterday"]) == 2
    assert main(["regimes", "--input", str(path), "--key", "surface=nope"]) == 1
    assert "no key matches" in capsys.readouterr().err
