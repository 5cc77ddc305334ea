"""``swapwatch silence add|list|expire`` and ``swapwatch ack`` on a state directory."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from swapwatch.detector import cli
from swapwatch.detector.alerts.acks import AckStore
from swapwatch.detector.alerts.silences import SilenceStore


def test_silence_add_list_expire(tmp_path, capsys):
    state = ["--state-dir", str(tmp_path)]
    assert cli.main(["silence", "add", *state, "-m", "provider=openai", "-m",
                     "request_model=~gpt-4o.*", "--start", "2026-03-02T14:00:00Z",
                     "--duration", "2h", "--comment", "migration", "--author", "ana"]) == 0
    silence_id = capsys.readouterr().out.strip()
    [silence] = SilenceStore(tmp_path).load()
    assert silence.id == silence_id and silence.ends_at.hour == 16
    assert [(m.name, m.op, m.value) for m in silence.matchers] == [
        ("provider", "=", "openai"), ("request_model", "=~", "gpt-4o.*")]
    assert cli.main(["silence", "list", *state, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["comment"] == "migration"
    assert cli.main(["silence", "expire", *state, silence_id, "--at",
                     "2026-03-02T15:00:00Z"]) == 0
    capsys.readouterr()
    [expired] = SilenceStore(tmp_path).load()
    assert not expired.active(datetime(2026, 3, 2, 15, 30, tzinfo=UTC))
    assert cli.main(["silence", "expire", *state, "nope"]) == 1
    assert cli.main(["silence", "add", *state, "-m", "provider"]) == 2


def test_ack_records_the_key_and_time(tmp_path, capsys):
    assert cli.main(["ack", "swap/api/chat/openai/gpt-4o/prod", "--state-dir", str(tmp_path),
                     "--at", "2026-03-02T15:00:00"]) == 0
    [ack] = AckStore(tmp_path).load()
    assert ack.key == "swap/api/chat/openai/gpt-4o/prod"
    assert ack.at == datetime(2026, 3, 2, 15, tzinfo=UTC)
    assert cli.main(["ack", "--list", "--state-dir", str(tmp_path)]) == 0
    assert "gpt-4o" in capsys.readouterr().out
