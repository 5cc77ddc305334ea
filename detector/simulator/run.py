"""Write one scenario to a directory: ``spans.jsonl`` (OTLP JSON lines) and ``truth.json``.

>>> import tempfile, json, pathlib
>>> with tempfile.TemporaryDirectory() as tmp:
...     result = simulate_to_dir("traffic-mix", seed=3, out_dir=tmp, days=1.5)
...     truth = json.loads(pathlib.Path(tmp, "truth.json").read_text())
...     lines = pathlib.Path(tmp, "spans.jsonl").read_text().splitlines()
>>> truth["scenario"], truth["benign"][0]["kind"], result.spans > 1000
('traffic-mix', 'traffic-mix', True)
>>> sum(len(s["spans"]) for l in lines for r in json.loads(l)["resourceSpans"]
...     for s in r["scopeSpans"]) == result.spans
True
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from swapwatch.detector.calls import LlmCall
from swapwatch.detector.simulator.generate import generate
from swapwatch.detector.simulator.profiles import ProfileCatalog
from swapwatch.detector.simulator.spans import SpanWriter
from swapwatch.detector.simulator.suite import build_scenario
from swapwatch.detector.simulator.truth import build_truth

SPANS_FILE = "spans.jsonl"
TRUTH_FILE = "truth.json"


@dataclass(frozen=True)
class SimulationResult:
    spans_path: Path
    truth_path: Path
    spans: int
    lines: int
    seconds: float  # wall time of generation, for the speed report only
    cpu_seconds: float  # process CPU time of generation (shared machines: the fairer figure)

    @property
    def spans_per_s(self) -> float:
        return self.spans / self.seconds if self.seconds > 0 else 0.0


def simulate_to_dir(
    name: str,
    seed: int,
    out_dir: str | Path,
    variant: str | None = None,
    days: float | None = None,
    dialect: str = "otel",
    catalog: ProfileCatalog | None = None,
    rate_scale: float = 1.0,
) -> SimulationResult:
    """Generate scenario ``name`` and write its spans and ground truth into ``out_dir``."""
    scenario = build_scenario(name, variant=variant, seed=seed, days=days, catalog=catalog,
                              rate_scale=rate_scale)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spans_path, truth_path = out / SPANS_FILE, out / TRUTH_FILE
    started, cpu_started = time.perf_counter(), time.process_time()
    caps: dict[tuple[str | None, ...], int | None] = {
        (k.service, k.surface, k.request_model, k.environment): k.max_tokens
        for k in scenario.keys
    }

    def max_tokens_of(call: LlmCall) -> int | None:
        return caps.get((call.service, call.surface, call.request_model, call.environment))

    with spans_path.open("wb") as stream, SpanWriter(
        stream, dialect=dialect, max_tokens_of=max_tokens_of
    ) as writer:
        run = generate(scenario, writer.write, catalog)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    truth = build_truth(scenario, run, dialect)
    truth_path.write_text(json.dumps(truth, indent=1) + "\n")
    return SimulationResult(spans_path, truth_path, writer.spans_written, writer.lines_written,
                            seconds, cpu_seconds)
