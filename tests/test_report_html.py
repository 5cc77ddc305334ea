"""The report's figures and page, without a browser: valid plotly figures, bounded size,
nothing fetched at open time, alerts and regimes marked where they belong."""

from __future__ import annotations

import base64
import gzip
import json
import re
from datetime import UTC, datetime

import plotly.graph_objects as go
import pytest
from swapwatch.detector.alerts.alert import Alert, AlertKey
from swapwatch.detector.detection.keys import SeriesKey
from swapwatch.detector.detection.ledger import Regime
from swapwatch.detector.report.config import ReportConfig
from swapwatch.detector.report.figures import report_figures
from swapwatch.detector.report.html import render_html
from swapwatch.detector.report.model import ReportData, alert_matches, build_report, key_anchor
from swapwatch.detector.report.sources import ReportRecorder
from test_report_series import DAY_NS, HOUR_NS, T0, make_call

KEY = SeriesKey("api", "chat", "openai", "gpt-4o", "prod")
OTHER_KEY = SeriesKey("api", "search", "anthropic", "claude-3-5-sonnet", "prod")


def _at(t_ns: int) -> datetime:
    return datetime.fromtimestamp(t_ns / 1e9, tz=UTC)


def swap_alert(changed_ns: int, detected_ns: int, key: SeriesKey = KEY) -> Alert:
    return Alert(kind="swap", key=key.alert_key(), signals=["decode_rate", "fingerprint"],
                 changed_at=_at(changed_ns), detected_at=_at(detected_ns),
                 summary="gpt-4o on chat: 2 signals shifted")


def small_report(config: ReportConfig | None = None) -> ReportData:
    recorder = ReportRecorder(config or ReportConfig(min_calls_per_point=1))
    swap_ns = T0 + 12 * HOUR_NS
    for i in range(24 * 12):  # a day, every 5 minutes, swapped at noon
        t = T0 + i * 300 * 10**9
        after = t >= swap_ns
        recorder.observe(make_call(t, served="gpt-4o-mini" if after else "gpt-4o",
                                   fingerprint="fp_b" if after else "fp_a",
                                   duration_s=1.0 if after else 2.0))
        recorder.observe(make_call(t, surface="search", served="claude-3-5-sonnet-20241022",
                                   request_model="claude-3-5-sonnet", provider="anthropic",
                                   fingerprint=None, finish=("end_turn",)))
    regimes = [Regime(index=0, start_ns=T0, end_ns=swap_ns, calls=144,
                      served_models={"gpt-4o": 144}, fingerprints={"fp_a": 144}),
               Regime(index=1, start_ns=swap_ns, calls=144, served_models={"gpt-4o-mini": 144},
                      fingerprints={"fp_b": 144}, opened_by="swap",
                      opened_signals=["decode_rate", "fingerprint"])]
    incident = Alert(kind="incident", key=AlertKey(provider="anthropic"),
                     changed_at=_at(T0 + 3 * HOUR_NS), detected_at=_at(T0 + 4 * HOUR_NS),
                     summary="anthropic slowed down")
    return build_report(title="test report", source="unit test", series=recorder.series,
                        ledgers=[(KEY, regimes, 0)],
                        alerts=[swap_alert(swap_ns, swap_ns + HOUR_NS), incident],
                        daily=recorder.daily)


def test_alerts_belong_to_the_keys_they_name() -> None:
    data = small_report()
    by_key = {r.key: r for r in data.keys}
    assert [a.kind for a in by_key[KEY].alerts] == ["swap"]
    assert [a.kind for a in by_key[OTHER_KEY].alerts] == ["incident"]  # provider-wide
    divergence = Alert(kind="divergence", key=AlertKey(request_model="gpt-4o"),
                       changed_at=_at(T0), detected_at=_at(T0), summary="eval vs prod")
    assert alert_matches(divergence, KEY) and not alert_matches(divergence, OTHER_KEY)
    assert by_key[KEY].series is not None and by_key[OTHER_KEY].regimes == []


def test_every_figure_is_a_valid_plotly_figure_with_marks() -> None:
    data = small_report()
    figures, sections = report_figures(data)
    # the timeline, one per surface, one per key
    assert len(figures) == 1 + 2 + 2
    assert set(sections) == {"timeline", "surface-0", "surface-1", key_anchor(KEY),
                             key_anchor(OTHER_KEY)}
    for fig in figures:
        traces = [dict(t, x=t.get("x", fig["x"])) for t in fig["data"]]
        go.Figure({"data": traces, "layout": fig["layout"]})  # raises on an invalid property
        assert traces, fig["id"]
        for trace in traces:
            if trace.get("y") is not None and fig["x"] is not None and "x" not in fig["data"][0]:
                assert len(trace["y"]) == len(fig["x"])
    key_fig = figures[[f["id"] for f in figures].index(sections[key_anchor(KEY)])]
    shapes = key_fig["layout"]["shapes"]
    regime_rects = [s for s in shapes if s["type"] == "rect" and s["layer"] == "below"
                    and "opacity" not in s]
    assert [(s["x0"], s["x1"]) for s in regime_rects] == [
        (T0 // 10**6, (T0 + 12 * HOUR_NS) // 10**6),
        ((T0 + 12 * HOUR_NS) // 10**6, data.last_ns // 10**6)]  # type: ignore[operator]
    detected = [s for s in shapes if s["type"] == "line"]
    assert [s["x0"] for s in detected] == [(T0 + 13 * HOUR_NS) // 10**6]
    band = [s for s in shapes if s.get("opacity")]
    assert [(s["x0"], s["x1"]) for s in band] == [((T0 + 12 * HOUR_NS) // 10**6,
                                                   (T0 + 13 * HOUR_NS) // 10**6)]
    names = {t["name"] for t in key_fig["data"]}
    assert {"gpt-4o", "gpt-4o-mini", "fp_a", "fp_b", "latency", "ttft", "decode_rate",
            "output_tokens", "tokenizer", "cost", "errors", "stop", "calls"} <= names
    # the served-model share switches at noon
    served = {t["name"]: t["y"] for t in key_fig["data"] if t.get("stackgroup", "").startswith(
        "served_model")}
    assert served["gpt-4o"][0] == 1.0 and served["gpt-4o-mini"][-1] == 1.0


def test_page_is_self_contained_and_carries_every_figure() -> None:
    data = small_report()
    page = render_html(data)
    # nothing is loaded from elsewhere: no src/href to another host, no stylesheet link
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page
    figures = json.loads(re.search(r'<script type="application/json" id="sw-data">(.*?)</script>',
                                   page, re.S).group(1))  # type: ignore[union-attr]
    divs = re.findall(r'<div class="sw-plot" id="([^"]+)"></div>', page)
    assert divs == [f["id"] for f in figures]
    packed = re.search(r'id="sw-plotly">([A-Za-z0-9+/=]+)</script>', page)
    assert packed is not None
    library = gzip.decompress(base64.b64decode(packed.group(1)))
    assert b"plotly.js" in library[:200] and len(library) > 1_000_000
    # the tables read without JavaScript
    assert f'id="{key_anchor(KEY)}"' in page and f'href="#{key_anchor(KEY)}"' in page
    assert "Regime ledger (2 regime(s))" in page
    assert "<td>2026-03-02</td><td class=\"num\">288</td>" in page  # daily share, chat


def test_report_of_a_month_over_dozens_of_keys_stays_a_few_megabytes() -> None:
    recorder = ReportRecorder()
    keys = 36
    for day in range(30):
        for hour in range(0, 24, 2):
            t = T0 + day * DAY_NS + hour * HOUR_NS
            for k in range(keys):
                recorder.observe(make_call(t + k * 10**6, surface=f"surface-{k % 12}",
                                           request_model=f"model-{k}",
                                           served=f"model-{k}-v{day // 10}",
                                           fingerprint=f"fp_{(day * 7 + k) % 40}"))
    data = build_report(title="month", source="synthetic", series=recorder.series, ledgers=[],
                        alerts=[swap_alert(T0 + 3 * DAY_NS, T0 + 3 * DAY_NS + HOUR_NS)],
                        daily=recorder.daily)
    assert len(data.keys) == keys
    page = render_html(data)
    size_mb = len(page.encode()) / 1e6
    data_mb = len(re.search(r'id="sw-data">(.*?)</script>', page, re.S).group(1)) / 1e6  # type: ignore[union-attr]
    print(f"month x {keys} keys: page {size_mb:.2f} MB, chart data {data_mb:.2f} MB")
    assert size_mb < 6.0
    assert data_mb < 3.0


@pytest.mark.parametrize("kind", ["swap", "identity", "incident", "divergence"])
def test_every_alert_kind_renders(kind: str) -> None:
    alert = Alert(kind=kind, key=KEY.alert_key(), changed_at=_at(T0 + HOUR_NS),  # type: ignore[arg-type]
                  detected_at=_at(T0 + 2 * HOUR_NS), summary=f"a {kind} <b>escaped</b>",
                  status="resolved" if kind == "divergence" else "firing")
    recorder = ReportRecorder()
    for i in range(100):
        recorder.observe(make_call(T0 + i * 60 * 10**9))
    page = render_html(build_report(title="kinds", source="unit", series=recorder.series,
                                    ledgers=[], alerts=[alert], daily=recorder.daily))
    assert f'class="kind {kind}' in page
    assert f"a {kind} &lt;b&gt;escaped&lt;/b&gt;" in page


def test_report_from_regimes_only_charts_each_regime() -> None:
    """Saved state has regimes, no calls: steps per regime, still valid plotly figures."""
    swap_ns = T0 + 12 * HOUR_NS
    regimes = [Regime(index=0, start_ns=T0, end_ns=swap_ns, calls=10, last_call_ns=swap_ns - 1,
                      served_models={"gpt-4o": 9, "gpt-4o-mini": 1}, fingerprints={"fp_a": 10},
                      median_decode_rate=80.0, median_output_tokens=200.0),
               Regime(index=1, start_ns=swap_ns, calls=10, last_call_ns=swap_ns + HOUR_NS,
                      served_models={"gpt-4o-mini": 10}, median_decode_rate=140.0,
                      opened_by="swap")]
    data = build_report(title="state", source="state dir", series=None,
                        ledgers=[(KEY, regimes, 3)], alerts=[swap_alert(swap_ns, swap_ns)],
                        daily=None)
    assert (data.first_ns, data.last_ns, data.calls) == (T0, swap_ns + HOUR_NS, 20)
    figures, sections = report_figures(data)
    assert list(sections) == ["timeline", key_anchor(KEY)]
    key_fig = figures[1]
    for fig in figures:
        go.Figure({"data": fig["data"], "layout": fig["layout"]})
    served = {t["name"]: t["y"] for t in key_fig["data"] if t.get("stackgroup") == "served_models"}
    assert served == {"gpt-4o": [0.9, 0.0, 0.0], "gpt-4o-mini": [0.1, 1.0, 1.0]}
    rates = next(t for t in key_fig["data"] if t["name"] == "median_decode_rate")
    assert rates["y"] == [80.0, 140.0, 140.0]
    assert key_fig["data"][0]["x"] == [T0 // 10**6, swap_ns // 10**6, (swap_ns + HOUR_NS) // 10**6]
    page = render_html(data)
    assert "Regime ledger (2 regime(s), 3 older dropped)" in page
    assert "model-share" not in page  # no daily counts in saved state
