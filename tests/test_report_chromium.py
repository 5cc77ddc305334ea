"""The report renders in a real browser: headless Debian chromium, with every network request
refused, draws every chart of a report made by ``swapwatch report`` from simulated spans (and
from a detector's saved state). A screenshot of each is kept under pytest's tmp dir and its
path printed: look at it.

Chromium is not optional: ``make test`` installs it (deploy/ci/ensure-chromium.sh).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from swapwatch.detector.cli import main
from swapwatch.detector.detection.engine import Detector
from swapwatch.detector.ingest.decode import iter_calls_from_file
from swapwatch.detector.runtime.checkpoint import DirectoryStateStore, PartitionState

_PNG = b"\x89PNG\r\n\x1a\n"


def chromium() -> str:
    found = shutil.which("chromium")
    assert found, "Debian's chromium is missing: run deploy/ci/ensure-chromium.sh (make test does)"
    return found


@dataclass
class Plot:
    id: str
    rendered: bool
    main_svgs: int = 0
    traces: int = 0


@dataclass
class _PlotScanner(HTMLParser):
    """Finds every ``div.sw-plot`` of the rendered DOM and what plotly drew inside it."""

    plots: list[Plot] = field(default_factory=list)
    _depth: int = 0  # element depth inside the current plot (0: outside)

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if self._depth:
            if tag in ("img", "br", "input", "meta", "link", "hr", "path", "rect", "line",
                       "circle", "use", "stop", "image"):
                pass  # void or usually self-closed: does not change the depth
            else:
                self._depth += 1
            if tag == "svg" and "main-svg" in classes:
                self.plots[-1].main_svgs += 1
            if tag == "g" and "trace" in classes:
                self.plots[-1].traces += 1
            return
        if tag == "div" and "sw-plot" in classes:
            self.plots.append(Plot(id=attributes.get("id") or "",
                                   rendered=attributes.get("data-rendered") == "1"))
            self._depth = 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._depth and tag == "g" and "trace" in (dict(attrs).get("class") or "").split():
            self.plots[-1].traces += 1

    def handle_endtag(self, tag: str) -> None:
        if self._depth and tag not in ("path", "rect", "line", "circle", "use", "stop",
                                       "image"):
            self._depth -= 1


def render(page: Path, screenshot: Path) -> str:
    """Open ``page`` in headless chromium (no network): the DOM after the scripts ran, and a
    1400×2400 screenshot."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        result = subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={profile}", "--hide-scrollbars",
             # any request to another host fails: the report must not need one
             "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
             "--window-size=1400,2400", "--virtual-time-budget=10000",
             f"--screenshot={screenshot}", "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def plots_of(dom: str) -> list[Plot]:
    scanner = _PlotScanner()
    scanner.feed(dom)
    return scanner.plots


def figure_ids(page: Path) -> list[str]:
    return re.findall(r'<div class="sw-plot" id="([^"]+)"></div>', page.read_text())


@pytest.fixture(scope="module")
def spans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real scenario: 30% of one key's calls fail over to another model (identity)."""
    out = tmp_path_factory.mktemp("scenario")
    assert main(["simulate", "--scenario", "honest-failover", "--variant", "30%", "--seed", "2",
                 "--days", "1.5", "--rate-scale", "0.25", "--out", str(out)]) == 0
    return out / "spans.jsonl"


def check_page(page: Path, name: str, expect_plots: int) -> list[Plot]:
    screenshot = page.with_name(f"{name}.png")
    dom = render(page, screenshot)
    print(f"\nreport screenshot: {screenshot}\nreport page: {page}")
    assert screenshot.read_bytes()[:8] == _PNG
    assert screenshot.stat().st_size > 50_000  # a blank 1400×2400 page is a few KB
    status = re.search(r'<div id="sw-status"[^>]*>(.*?)</div>', dom, re.S)
    assert status is not None and status.group(1) == "", status  # the page reports no error
    plots = plots_of(dom)
    assert [p.id for p in plots] == figure_ids(page)
    assert len(plots) == expect_plots
    for plot in plots:
        assert plot.rendered, f"{plot.id} was not drawn"
        assert plot.main_svgs >= 1, f"{plot.id} has no plotly SVG"
        assert plot.traces >= 1, f"{plot.id} has no trace"
    return plots


def test_report_from_spans_renders_every_plot(spans: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "report.html"
    assert main(["report", "--input", str(spans), "--out", str(page)]) == 0
    text = page.read_text()
    assert 'class="kind identity"' in text  # the failover was alerted and is listed
    keys = len(re.findall(r'<section class="card" id="key-', text))
    surfaces = len(re.findall(r'id="fig-surface-\d+"', text))
    assert keys == 8 and surfaces == 8
    with capsys.disabled():
        plots = check_page(page, "report", expect_plots=1 + surfaces + keys)
    by_id = {p.id: p for p in plots}
    # a key figure stacks about ten rows: its SVG holds a trace per model, fingerprint, signal
    assert by_id["fig-key-0"].traces >= 8


def test_report_from_saved_state_renders_every_plot(spans: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    detector = Detector()
    for call in iter_calls_from_file(spans):
        detector.process(call)
    detector.flush()
    state_dir = tmp_path / "state"
    DirectoryStateStore(state_dir).save(PartitionState.fresh("otlp_spans", 0, detector))
    page = tmp_path / "state-report.html"
    assert main(["report", "--state", str(state_dir), "--out", str(page)]) == 0
    text = page.read_text()
    assert "saved state keeps each key&#x27;s regimes" in text
    keys = len(re.findall(r'<section class="card" id="key-', text))
    assert keys == 8
    with capsys.disabled():
        check_page(page, "state-report", expect_plots=1 + keys)
