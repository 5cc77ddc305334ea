"""`swapwatch calls`: what a user runs on a Collector file-exporter file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "otlp" / "collector_file_exporter.jsonl"


def swapwatch_calls(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swapwatch.detector.cli", "calls", *args],
        input=stdin, capture_output=True, text=True, timeout=120,
    )


def test_prints_one_json_object_per_call() -> None:
    proc = swapwatch_calls("--input", str(FIXTURE))
    assert proc.returncode == 0, proc.stderr
    calls = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(calls) == 6
    assert calls[0]["request_model"] == "gpt-4o"
    assert calls[0]["response_model"] == "gpt-4o-2024-08-06"
    assert calls[0]["finish_reasons"] == ["stop"]
    assert {c["dialect"] for c in calls} == {
        "otel", "otel-legacy", "openllmetry", "openinference", "openlit"}
    assert proc.stderr == ""


def test_reads_stdin_and_reports_bad_lines_with_numbers(tmp_path: Path) -> None:
    lines = FIXTURE.read_text().splitlines()
    truncated = '{"resourceSpans":[{"scopeSpans"'
    text = "\n".join([lines[0], "not json at all", lines[3], truncated]) + "\n"
    proc = swapwatch_calls("--input", "-", "--stats", stdin=text)
    assert proc.returncode == 0
    assert len(proc.stdout.splitlines()) == 2
    assert "-:2: skipped: not JSON" in proc.stderr
    assert "-:4: skipped: not JSON" in proc.stderr
    assert "2 of 4 lines could not be read" in proc.stderr
    stats = json.loads(proc.stderr.strip().splitlines()[-1])
    assert stats["malformed_messages"] == 2 and stats["calls"] == 2


def test_exit_status_is_non_zero_only_when_nothing_could_be_read(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("garbage\n{}\n")
    proc = swapwatch_calls("--input", str(bad))
    assert proc.returncode == 1 and proc.stdout == ""
    assert f"{bad}:1: skipped" in proc.stderr and f"{bad}:2: skipped" in proc.stderr
    missing = swapwatch_calls("--input", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
