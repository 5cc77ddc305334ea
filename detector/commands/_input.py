"""What the commands that read an OTLP JSON-lines file share: the input, and how skipped
lines are reported (the first few on stderr with their line numbers; the ingest counters
keep the total).

>>> import io
>>> err = io.StringIO()
>>> report = SkippedLines("spans.jsonl", limit=1, stream=err)
>>> report(3, "not JSON"); report(7, "not JSON")
>>> err.getvalue(), report.count
('spans.jsonl:3: skipped: not JSON\\n', 2)
"""

from __future__ import annotations

import sys
from typing import IO, Any


def input_source(path: str) -> IO[Any] | str:
    """``-`` is standard input (bytes); anything else is a path."""
    return sys.stdin.buffer if path == "-" else path


class SkippedLines:
    """The ``on_error`` callback of ``iter_calls_from_file``: counts, shows the first few."""

    def __init__(self, name: str, limit: int = 50, stream: IO[str] | None = None) -> None:
        self.name = name
        self.limit = limit
        self.stream = stream
        self.count = 0

    def __call__(self, line_number: int, reason: str) -> None:
        self.count += 1
        if self.count <= self.limit:
            print(f"{self.name}:{line_number}: skipped: {reason}",
                  file=self.stream if self.stream is not None else sys.stderr)
