"""The report as one self-contained HTML file: tables in HTML, charts drawn by embedded plotly.js.

Nothing is fetched when the file opens: the charting library, the figures' data and the styles
are all inside. The tables (alerts, the daily model share, each key's regime ledger) are plain
HTML and read without JavaScript; the charts need a browser with ``DecompressionStream``.
Every chart is a ``div.sw-plot``; once drawn it carries ``data-rendered="1"`` (what the
headless-browser test checks). ``report.html#<key anchor>`` (:func:`key_anchor`) jumps to one
key, which is how an alert links to its evidence.

>>> from swapwatch.detector.report.model import ReportData
>>> page = render_html(ReportData(title="t", source="nothing", keys=[], surfaces=[],
...                               daily=None, alerts=[]))
>>> page.startswith("<!DOCTYPE html>"), "sw-plotly" in page, "http://" in page.split("<body")[1]
(True, True, False)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html import escape
from typing import Any

from swapwatch.detector.alerts.alert import Alert
from swapwatch.detector.detection.ledger import Regime, rfc3339
from swapwatch.detector.report.figures import Figure, Palette, report_figures
from swapwatch.detector.report.model import KeyReport, ReportData, key_anchor
from swapwatch.detector.report.model_share import DailyModelShare
from swapwatch.detector.report.plotlyjs import packed_plotlyjs, plotly_version

_STYLE = """
:root { --ink:#1d2733; --muted:#5d6b7a; --line:#e3e8ee; --card:#fff; --bg:#f4f6f9; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
       color:var(--ink); background:var(--bg); }
header { background:#1d2733; color:#fff; padding:18px 28px 14px; }
header h1 { margin:0 0 4px; font-size:22px; font-weight:600; }
header .facts { color:#c4cdd6; font-size:13px; }
header .facts b { color:#fff; font-weight:600; }
nav { padding:8px 28px; background:#fff; border-bottom:1px solid var(--line); font-size:13px; }
nav a { margin-right:14px; }
main { padding:18px 28px 40px; max-width:1500px; }
section.card { background:var(--card); border:1px solid var(--line); border-radius:8px;
               padding:14px 18px; margin:0 0 18px; }
h2 { font-size:17px; margin:0 0 10px; } h3 { font-size:15px; margin:0 0 6px; }
a { color:#1f5fa8; text-decoration:none; } a:hover { text-decoration:underline; }
table { border-collapse:collapse; font-size:12.5px; margin:6px 0; }
th, td { padding:4px 10px; border-bottom:1px solid var(--line); text-align:left;
         vertical-align:top; }
th { color:var(--muted); font-weight:600; background:#fafbfc; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
.kind { display:inline-block; padding:1px 7px; border-radius:10px; color:#fff; font-size:11.5px; }
.kind.swap { background:#d62728; } .kind.identity { background:#9467bd; }
.kind.incident { background:#ff7f0e; } .kind.divergence { background:#17becf; }
.kind.resolved { opacity:.55; }
.chip { display:inline-block; width:9px; height:9px; border-radius:2px; margin-right:4px; }
.muted { color:var(--muted); } .note { color:#8a5a00; background:#fff7e0; padding:6px 10px;
  border-radius:6px; margin:0 0 12px; }
.sw-plot { width:100%; min-height:120px; }
.surfaces { display:grid; grid-template-columns:repeat(auto-fill, minmax(560px, 1fr));
            gap:6px 24px; }
.surface { min-width:0; overflow-x:auto; }
.surface td { white-space:nowrap; }
.legend-marks span { margin-right:16px; }
.nojs { color:#8a1c1c; }
footer { color:var(--muted); font-size:12px; padding:0 28px 30px; }
"""

# Unpack plotly.js (gzip + base64), then draw every figure; figures without their own x use
# the figure's shared time grid. A failure is shown on the page, not only in the console.
_SCRIPT = """
(async function () {
  const status = document.getElementById('sw-status');
  try {
    const packed = document.getElementById('sw-plotly').textContent.trim();
    const bytes = Uint8Array.from(atob(packed), c => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    const library = document.createElement('script');
    library.textContent = await new Response(stream).text();
    document.head.appendChild(library);
    const figures = JSON.parse(document.getElementById('sw-data').textContent);
    for (const fig of figures) {
      if (fig.x) { for (const trace of fig.data) { if (trace.x === undefined) trace.x = fig.x; } }
      const node = document.getElementById(fig.id);
      await Plotly.newPlot(node, fig.data, fig.layout,
                           {responsive: true, displaylogo: false, scrollZoom: false});
      node.setAttribute('data-rendered', '1');
    }
    status.textContent = '';
  } catch (err) {
    status.textContent = 'charts could not be drawn in this browser: ' + err;
  }
})();
"""


def _time(t_ns: int | None) -> str:
    text = rfc3339(t_ns)
    return "-" if text is None else text.replace("T", " ").split(".")[0].rstrip("Z") + "Z"


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element (no ``</`` can close it early)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def _table(header: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    """Cells are HTML already (escaped by the caller)."""
    numeric = numeric or set()
    head = "".join(f'<th class="num">{h}</th>' if i in numeric else f"<th>{h}</th>"
                   for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
                         for i, c in enumerate(row)) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _kind(alert: Alert) -> str:
    resolved = " resolved" if alert.status == "resolved" else ""
    return f'<span class="kind {escape(alert.kind)}{resolved}">{escape(alert.kind)}' \
           f'{escape(resolved)}</span>'


def _shares_cell(counts: dict[str, int], colours: Palette, limit: int = 4) -> str:
    total = sum(counts.values())
    if not total:
        return '<span class="muted">-</span>'
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    parts = [f'<span class="chip" style="background:{colours.of(name)}"></span>'
             f"{escape(name)} {n / total:.0%}" for name, n in ranked[:limit]]
    if len(ranked) > limit:
        parts.append(f'<span class="muted">+{len(ranked) - limit} more</span>')
    return "<br>".join(parts)


def alerts_section(data: ReportData) -> str:
    if not data.alerts:
        return '<section class="card" id="alerts"><h2>Alerts</h2>' \
               '<p class="muted">No alerts in this input.</p></section>'
    anchors = {r.key: r.anchor for r in data.keys}
    rows = []
    for alert in sorted(data.alerts, key=lambda a: a.detected_at):
        matching = [r for r in data.keys if r.key in anchors and alert in r.alerts]
        slug = escape(alert.key.slug())
        target = f'<a href="#{anchors[matching[0].key]}">{slug}</a>' if len(matching) == 1 \
            else slug
        delay = alert.detected_at - alert.changed_at
        rows.append([_kind(alert), target, escape(", ".join(alert.signals)),
                     _when(alert.changed_at), _when(alert.detected_at),
                     f"{delay.total_seconds() / 60:.0f} min", escape(alert.summary)])
    table = _table(["kind", "key", "signals", "changed at", "detected at", "delay", "summary"],
                   rows, numeric={5})
    return f'<section class="card" id="alerts"><h2>Alerts ({len(data.alerts)})</h2>{table}' \
           "</section>"


def daily_share_table(daily: DailyModelShare, surface: str, colours: Palette) -> str:
    models = daily.models(surface)
    header = ["day (UTC)", "calls"] + [
        f'<span class="chip" style="background:{colours.of(m)}"></span>{escape(m)}'
        for m in models]
    rows = [[day.day, str(day.calls), *(f"{100 * day.shares.get(m, 0.0):.1f}%" for m in models)]
            for day in daily.days(surface)]
    return _table(header, rows, numeric=set(range(1, len(models) + 2)))


def _plot(fig: Figure) -> str:
    return f'<div class="sw-plot" id="{escape(fig["id"])}"></div>'


def regime_table(regimes: list[Regime], colours: Palette) -> str:
    rows = []
    for r in regimes:
        opened = escape(r.opened_by)
        if r.opened_signals:
            opened += f' <span class="muted">({escape(", ".join(r.opened_signals))})</span>'
        if r.mixed_calls:
            opened += f'<br><span class="muted">~{r.mixed_calls} calls of the next regime ' \
                      "counted here</span>"
        rows.append([str(r.index), _time(r.start_ns),
                     _time(r.end_ns) if r.end_ns is not None else "<b>open</b>", str(r.calls),
                     _shares_cell(r.served_models, colours), _shares_cell(r.fingerprints, colours),
                     "-" if r.median_decode_rate is None else f"{r.median_decode_rate:.1f}",
                     "-" if r.median_output_tokens is None else f"{r.median_output_tokens:.0f}",
                     opened])
    return _table(["#", "start", "end", "calls", "served models", "fingerprints",
                   "decode tok/s", "output tok", "opened by"], rows, numeric={0, 3, 6, 7})


def key_section(report: KeyReport, fig: Figure, colours: Palette) -> str:
    key = report.key
    facts = " · ".join(f"{name} <b>{escape(value)}</b>"
                       for name, value in key._asdict().items() if value)
    parts = [f'<section class="card" id="{escape(report.anchor)}">',
             f"<h3>{escape(key.slug())}</h3><div class=\"muted\">{facts}</div>", _plot(fig)]
    if report.regimes:
        title = f"Regime ledger ({len(report.regimes)} regime(s)"
        title += f", {report.dropped_regimes} older dropped)" if report.dropped_regimes else ")"
        parts += [f"<h3>{title}</h3>", regime_table(report.regimes, colours)]
    parts.append("</section>")
    return "".join(parts)


def render_html(data: ReportData) -> str:
    """The whole page (a few MB at most: the packed library plus bounded data)."""
    colours = Palette()  # shared by charts and tables: a model has one colour on the page
    figures, sections = report_figures(data, colours)
    by_id = {fig["id"]: fig for fig in figures}
    span = f"{_time(data.first_ns)} → {_time(data.last_ns)}"
    facts = (f"<b>{data.calls:,}</b> calls · <b>{len(data.keys)}</b> series keys · "
             f"<b>{len(data.alerts)}</b> alerts · {escape(span)} · from {escape(data.source)}")
    nav = ['<a href="#alerts">alerts</a>']
    body = [alerts_section(data)]
    if "timeline" in sections:
        nav.append('<a href="#timeline">regime timeline</a>')
        body.append('<section class="card" id="timeline"><h2>Regime timeline</h2>'
                    '<div class="muted">Each bar is a regime: the stretch between two change '
                    "points, coloured by the model that served most of it; diamonds are alerts."
                    f"</div>{_plot(by_id[sections['timeline']])}</section>")
    if data.surfaces or data.daily is not None:
        nav.append('<a href="#model-share">model share</a>')
        share = ['<section class="card" id="model-share"><h2>Served-model share per surface'
                 "</h2>"]
        share.append('<div class="surfaces">')
        for i, series in enumerate(data.surfaces):
            share.append('<div class="surface">' + _plot(by_id[sections[f"surface-{i}"]]))
            if data.daily is not None:
                share.append(daily_share_table(data.daily, series.surface or "-", colours))
            share.append("</div>")
        share.append("</div>")
        if data.daily is not None and not data.surfaces:
            for surface in data.daily.surfaces():
                share += [f"<h3>{escape(surface)}</h3>",
                          daily_share_table(data.daily, surface, colours)]
        share.append("</section>")
        body.append("".join(share))
    nav.append('<a href="#keys">series keys</a>')
    index = " ".join(f'<a href="#{r.anchor}">{escape(r.key.slug())}</a>' for r in data.keys)
    body.append(f'<section class="card" id="keys"><h2>Series keys</h2>{index or "none"}'
                '<div class="legend-marks muted" style="margin-top:8px">'
                '<span>shaded: regimes</span><span style="color:#d62728">swap</span>'
                '<span style="color:#9467bd">identity</span>'
                '<span style="color:#ff7f0e">incident</span>'
                '<span style="color:#17becf">divergence</span>'
                "<span>(band: from the change to its detection)</span></div></section>")
    body += [key_section(r, by_id[sections[r.anchor]], colours) for r in data.keys]
    notes = "".join(f'<div class="note">{escape(n)}</div>' for n in data.notes)
    return "".join([
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(data.title)}</title><style>{_STYLE}</style></head><body>",
        f"<header><h1>{escape(data.title)}</h1><div class=\"facts\">{facts}</div></header>",
        f"<nav>{' '.join(nav)}</nav><main>",
        '<noscript><p class="nojs">Charts need JavaScript; the tables below read without it.'
        '</p></noscript><div id="sw-status" class="muted">drawing charts…</div>',
        notes, *body, "</main>",
        f"<footer>swapwatch report · charts by plotly.js {escape(plotly_version())} (MIT), "
        "embedded</footer>",
        f'<script type="application/json" id="sw-data">{_script_json(figures)}</script>',
        f'<script type="application/octet-stream" id="sw-plotly">{packed_plotlyjs()}</script>',
        f"<script>{_SCRIPT}</script></body></html>",
    ])


__all__ = ["key_anchor", "render_html"]
