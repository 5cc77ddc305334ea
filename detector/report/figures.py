"""The report's charts as plotly.js figure specs (plain dicts; pure functions of the data).

* the regime timeline: every key on one chart, each regime a bar coloured by the model that
  served most of it, alerts as markers — the page's first picture;
* per surface: the served-model share as a stacked area;
* per key: one figure of stacked rows sharing the time axis — calls, served-model share,
  fingerprint share (the fingerprint timeline), latency and ttft, decode rate, output tokens,
  tokenizer ratio, cost per call, error rate, finish-reason mix, quality — with the key's
  regimes shaded behind every row and its alerts drawn as lines (``changed_at`` → ``detected_at``
  as a band: how long detection took).

Figures that share one time grid leave the traces' ``x`` out and carry it once as ``x`` (unix
ms); the page's script fills it in. A name has one colour in every chart of a report.

>>> from swapwatch.detector.detection.ledger import Regime
>>> colours = Palette()
>>> colours.of("gpt-4o") == colours.of("gpt-4o"), colours.of("gpt-4o") != colours.of("b")
(True, True)
>>> shapes = regime_shapes([Regime(index=0, start_ns=0, end_ns=10**12, calls=5),
...                         Regime(index=1, start_ns=10**12, calls=3)], end_ms=2_000_000)
>>> [(s["x0"], s["x1"]) for s in shapes]
[(0, 1000000), (1000000, 2000000)]
"""

from __future__ import annotations

from typing import Any

from swapwatch.detector.alerts.alert import Alert
from swapwatch.detector.detection.ledger import Regime
from swapwatch.detector.report.model import KeyReport, ReportData
from swapwatch.detector.report.series import OTHER, KeySeries

Figure = dict[str, Any]

_COLOURS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
            "#ff9da7", "#9c755f", "#1f77b4", "#8c564b", "#17becf", "#bcbd22", "#d62728")
_GREY = "#b8b8b8"
_ALERT_COLOURS = {"swap": "#d62728", "identity": "#9467bd", "incident": "#ff7f0e",
                  "divergence": "#17becf"}
_REGIME_FILLS = ("rgba(78,121,167,0.07)", "rgba(242,142,43,0.09)")
_FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12}

# per-key rows: (title, kind, what, tick format); kind: share | median | ratio | calls
_ROWS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("calls per bucket", "calls", (), ""),
    ("served model (share of calls)", "share", ("served_model",), ".0%"),
    ("system fingerprint (share)", "share", ("fingerprint",), ".0%"),
    ("latency (solid) and ttft (dotted) p50, ms", "median", ("latency", "ttft"), ""),
    ("decode rate p50 (tokens/s)", "median", ("decode_rate",), ""),
    ("output tokens p50", "median", ("output_tokens",), ""),
    ("tokenizer (input tokens per prompt char)", "ratio", ("tokenizer",), ".3f"),
    ("cost per call (USD)", "ratio", ("cost",), "$.4f"),
    ("error rate", "ratio", ("errors",), ".1%"),
    ("finish reason mix", "share", ("finish_reason",), ".0%"),
    ("quality (mean evaluation score)", "ratio", ("quality",), ".2f"),
)
_ROW_WEIGHT = {"calls": 0.55, "share": 1.2, "median": 1.0, "ratio": 0.8}
_ROW_PX = 105


class Palette:
    """One colour per name for the whole report (``(other)`` and absent values are grey)."""

    def __init__(self) -> None:
        self._assigned: dict[str, str] = {}

    def of(self, name: str) -> str:
        if name == OTHER or name.startswith("("):
            return _GREY
        colour = self._assigned.get(name)
        if colour is None:
            colour = _COLOURS[len(self._assigned) % len(_COLOURS)]
            self._assigned[name] = colour
        return colour


def ms(t_ns: int | None) -> int | None:
    return None if t_ns is None else t_ns // 1_000_000


def regime_shapes(regimes: list[Regime], end_ms: int | None) -> list[dict[str, Any]]:
    """Shaded spans behind every row, alternating tints (x in unix ms)."""
    shapes = []
    for r in regimes:
        x1 = ms(r.end_ns) if r.end_ns is not None else end_ms
        if x1 is None:
            continue
        shapes.append({"type": "rect", "xref": "x", "yref": "paper", "x0": ms(r.start_ns),
                       "x1": x1, "y0": 0, "y1": 1, "layer": "below", "line": {"width": 0},
                       "fillcolor": _REGIME_FILLS[r.index % 2]})
    return shapes


def alert_marks(alerts: list[Alert]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Shapes (a band from change to detection, a line at detection) and labels per alert."""
    shapes: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    for alert in alerts:
        colour = _ALERT_COLOURS.get(alert.kind, "#444")
        changed = int(alert.changed_at.timestamp() * 1000)
        detected = int(alert.detected_at.timestamp() * 1000)
        resolved = alert.status == "resolved"
        if detected > changed:
            shapes.append({"type": "rect", "xref": "x", "yref": "paper", "x0": changed,
                           "x1": detected, "y0": 0, "y1": 1, "layer": "below",
                           "line": {"width": 0}, "fillcolor": colour, "opacity": 0.12})
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": detected,
                       "x1": detected, "y0": 0, "y1": 1,
                       "line": {"color": colour, "width": 1 if resolved else 2,
                                "dash": "dot" if resolved else "solid"}})
        label = f"{alert.kind} resolved" if resolved else alert.kind
        labels.append({"x": detected, "xref": "x", "yref": "paper", "y": 1, "yanchor": "bottom",
                       "text": label, "showarrow": False, "font": {"color": colour, "size": 11},
                       "hovertext": _alert_hover(alert)})
    return shapes, labels


def _alert_hover(alert: Alert) -> str:
    lines = [f"<b>{alert.kind}</b> {alert.status}: {alert.summary}",
             f"changed {alert.changed_at:%Y-%m-%d %H:%M:%S}Z, detected "
             f"{alert.detected_at:%Y-%m-%d %H:%M:%S}Z"]
    if alert.signals:
        lines.append("signals: " + ", ".join(alert.signals))
    return "<br>".join(lines)


def _has_values(values: list[float | None]) -> bool:
    return any(v is not None for v in values)


def _row_traces(kind: str, what: tuple[str, ...], series: KeySeries, axis: str,
                colours: Palette, legend: str = "legend") -> list[dict[str, Any]]:
    xaxis, yaxis = "x" + axis, "y" + axis
    if kind == "calls":
        return [{"type": "bar", "name": "calls", "y": series.calls, "xaxis": xaxis,
                 "yaxis": yaxis, "marker": {"color": "#9aa7b5"}, "showlegend": False,
                 "hovertemplate": "%{y} calls<extra></extra>"}]
    traces: list[dict[str, Any]] = []
    if kind == "share":
        for name, shares in series.shares[what[0]].items():
            traces.append({"type": "scatter", "mode": "lines", "name": name, "y": shares,
                           "xaxis": xaxis, "yaxis": yaxis, "stackgroup": what[0] + axis,
                           "stackgaps": "interpolate",
                           "line": {"width": 0.5, "color": colours.of(name)},
                           "fillcolor": colours.of(name), "legend": legend,
                           "hovertemplate": f"{name}: %{{y:.1%}}<extra></extra>"})
        return traces
    dashes = ("solid", "dot")
    for i, signal in enumerate(what):
        values = series.values[signal]
        if not _has_values(values):
            continue
        traces.append({"type": "scatter", "mode": "lines+markers", "name": signal,
                       "y": values, "xaxis": xaxis, "yaxis": yaxis, "connectgaps": False,
                       "line": {"width": 1.6, "color": "#2a5783", "dash": dashes[i % 2]},
                       "marker": {"size": 3}, "showlegend": False,
                       "hovertemplate": f"{signal}: %{{y:.4g}}<extra></extra>"})
    return traces


def _stack_layout(rows: list[tuple[str, str, str]], height: int) -> dict[str, Any]:
    """Axes for rows stacked top to bottom, sharing one time axis (``rows``: title, kind, fmt)."""
    weights = [_ROW_WEIGHT[kind] for _, kind, _ in rows]
    total = sum(weights)
    gap = min(0.1, 30 / height)  # room for each row's title, in paper units
    layout: dict[str, Any] = {"height": height, "margin": {"l": 70, "r": 20, "t": 34, "b": 36},
                              "hovermode": "x unified", "font": _FONT, "showlegend": False,
                              "plot_bgcolor": "white", "paper_bgcolor": "white",
                              "annotations": [], "shapes": []}
    top = 1.0
    for i, ((title, kind, fmt), weight) in enumerate(zip(rows, weights, strict=True)):
        axis = "" if i == 0 else str(i + 1)
        span = weight / total
        lo, hi = max(top - span + gap / 2, 0.0), top - gap / 2
        top -= span
        last = i == len(rows) - 1
        layout["xaxis" + axis] = {"type": "date", "anchor": "y" + axis, "showgrid": True,
                                  "gridcolor": "#eee", "showticklabels": last,
                                  **({} if i == 0 else {"matches": "x"})}
        layout["yaxis" + axis] = {"domain": [round(lo, 4), round(hi, 4)], "anchor": "x" + axis,
                                  "gridcolor": "#eee", "zeroline": False, "tickformat": fmt,
                                  "rangemode": "tozero", "automargin": True,
                                  "nticks": 3 if kind == "calls" else 5}
        layout["annotations"].append({"text": f"<b>{title}</b>", "xref": "paper",
                                      "yref": "paper", "x": 0, "y": hi, "xanchor": "left",
                                      "yanchor": "bottom", "showarrow": False,
                                      "font": {"size": 11, "color": "#555"}})
    return layout


def _row_legends(layout: dict[str, Any], rows: list[int]) -> None:
    """Each stacked row's names beside it, on the right (``legend``, ``legend2``, ...)."""
    layout["showlegend"] = bool(rows)
    layout["margin"]["r"] = 230 if rows else 20
    for n, row in enumerate(rows):
        axis = "" if row == 0 else str(row + 1)
        layout["legend" if n == 0 else f"legend{n + 1}"] = {
            "x": 1.01, "xanchor": "left", "y": layout["yaxis" + axis]["domain"][1],
            "yanchor": "top", "font": {"size": 10.5}, "tracegroupgap": 0,
            "bgcolor": "rgba(255,255,255,0)"}


def key_figure(report: KeyReport, fig_id: str, colours: Palette,
               end_ms: int | None) -> Figure:
    """The stacked rows of one key (or, without replayed calls, its regimes as steps)."""
    series = report.series
    if series is None:
        return regime_figure(report, fig_id, colours, end_ms)
    rows: list[tuple[str, str, str]] = []
    data: list[dict[str, Any]] = []
    legends: list[int] = []  # the rows that have a legend (the stacked shares)
    for title, kind, what, fmt in _ROWS:
        axis = "" if not rows else str(len(rows) + 1)
        legend = "legend" if not legends else f"legend{len(legends) + 1}"
        traces = _row_traces(kind, what, series, axis, colours, legend)
        if kind == "share" and not series.shares[what[0]]:
            traces = []
        if not traces:
            continue
        if kind == "share":
            legends.append(len(rows))
        rows.append((title, kind, fmt))
        data.extend(traces)
    height = int(60 + _ROW_PX * sum(_ROW_WEIGHT[k] for _, k, _ in rows) * 1.0)
    layout = _stack_layout(rows, height)
    _row_legends(layout, legends)
    shapes, labels = alert_marks(report.alerts)
    layout["shapes"] = regime_shapes(report.regimes, end_ms) + shapes
    layout["annotations"] += labels
    return {"id": fig_id, "x": series.times_ms, "data": data, "layout": layout}


def regime_figure(report: KeyReport, fig_id: str, colours: Palette,
                  end_ms: int | None) -> Figure:
    """Served-model and fingerprint shares per regime as steps (saved state has no series)."""
    regimes = report.regimes
    xs = [ms(r.start_ns) for r in regimes]
    last = regimes[-1].end_ns or regimes[-1].last_call_ns if regimes else None
    xs.append(ms(last) if last is not None else end_ms)
    rows: list[tuple[str, str, str]] = []
    data: list[dict[str, Any]] = []
    for title, field in (("served model (share of calls, per regime)", "served_models"),
                         ("system fingerprint (share, per regime)", "fingerprints")):
        names: dict[str, int] = {}
        for r in regimes:
            for name, n in getattr(r, field).items():
                names[name] = names.get(name, 0) + n
        if not names:
            continue
        axis = "" if not rows else str(len(rows) + 1)
        legend = "legend" if not rows else f"legend{len(rows) + 1}"
        rows.append((title, "share", ".0%"))
        for name in sorted(names, key=lambda n: -names[n]):
            shares = [_share(getattr(r, field), name) for r in regimes]
            data.append({"type": "scatter", "mode": "lines", "name": name, "x": xs,
                         "y": [*shares, shares[-1] if shares else None],
                         "line": {"shape": "hv", "width": 0.5, "color": colours.of(name)},
                         "fillcolor": colours.of(name), "stackgroup": field,
                         "xaxis": "x" + axis, "yaxis": "y" + axis, "legend": legend,
                         "hovertemplate": f"{name}: %{{y:.1%}}<extra></extra>"})
    for title, field in (("decode rate median (tokens/s, per regime)", "median_decode_rate"),
                         ("output tokens median (per regime)", "median_output_tokens")):
        values = [getattr(r, field) for r in regimes]
        if not _has_values(values):
            continue
        axis = "" if not rows else str(len(rows) + 1)
        rows.append((title, "median", ""))
        data.append({"type": "scatter", "mode": "lines", "name": field, "x": xs,
                     "y": [*values, values[-1]], "line": {"shape": "hv", "color": "#2a5783"},
                     "xaxis": "x" + axis, "yaxis": "y" + axis, "showlegend": False})
    if not rows:
        rows.append(("no regimes kept for this key", "median", ""))
    layout = _stack_layout(rows, int(60 + _ROW_PX * sum(_ROW_WEIGHT[k] for _, k, _ in rows)))
    _row_legends(layout, [i for i, (_, kind, _) in enumerate(rows) if kind == "share"])
    shapes, labels = alert_marks(report.alerts)
    layout["shapes"] = regime_shapes(regimes, end_ms) + shapes
    layout["annotations"] += labels
    return {"id": fig_id, "x": None, "data": data, "layout": layout}


def _served_mix(regime: Regime, limit: int = 2) -> str:
    """``gpt-4o 71% · gpt-4-turbo 29%``: what served a regime, in a few words."""
    total = sum(regime.served_models.values())
    if not total:
        return "served model not reported"
    ranked = sorted(regime.served_models.items(), key=lambda kv: -kv[1])
    text = " · ".join(f"{name} {n / total:.0%}" for name, n in ranked[:limit])
    return text + (f" +{len(ranked) - limit}" if len(ranked) > limit else "")


def _share(counts: dict[str, int], name: str) -> float:
    total = sum(counts.values())
    return round(counts.get(name, 0) / total, 4) if total else 0.0


def surface_figure(series: KeySeries, alerts: list[Alert], fig_id: str,
                   colours: Palette) -> Figure:
    """One surface's served-model share as a stacked area, with the surface's alerts."""
    layout = _stack_layout([(f"served-model share on {series.surface or '-'}", "share", ".0%")],
                           240)
    layout["showlegend"] = True
    layout["legend"] = {"orientation": "h", "y": -0.18, "font": {"size": 11}}
    data = []
    for name, shares in series.shares["served_model"].items():
        data.append({"type": "scatter", "mode": "lines", "name": name, "y": shares,
                     "stackgroup": "served", "stackgaps": "interpolate",
                     "line": {"width": 0.5, "color": colours.of(name)},
                     "fillcolor": colours.of(name),
                     "hovertemplate": f"{name}: %{{y:.1%}}<extra></extra>"})
    shapes, labels = alert_marks(alerts)
    layout["shapes"] = shapes
    layout["annotations"] += labels
    layout["margin"]["b"] = 60
    return {"id": fig_id, "x": series.times_ms, "data": data, "layout": layout}


def timeline_figure(data: ReportData, fig_id: str, colours: Palette) -> Figure | None:
    """Every key's regimes as bars coloured by the model that served most of each."""
    bars: dict[str, dict[str, list[Any]]] = {}
    end_ms = ms(data.last_ns)
    for report in data.keys:
        for r in report.regimes:
            x1 = ms(r.end_ns) if r.end_ns is not None else end_ms
            x0 = ms(r.start_ns)
            if x1 is None or x0 is None:
                continue
            top = max(r.served_models.items(), key=lambda kv: kv[1])[0] \
                if r.served_models else "(not reported)"
            fingerprint = max(r.fingerprints.items(), key=lambda kv: kv[1])[0] \
                if r.fingerprints else "-"
            group = bars.setdefault(top, {"base": [], "x": [], "y": [], "text": [], "hover": []})
            group["base"].append(x0)
            group["x"].append(max(x1 - x0, 1))
            group["y"].append(report.key.slug())
            group["text"].append(_served_mix(r))
            group["hover"].append(f"regime {r.index} (opened by {r.opened_by}): {r.calls} "
                                  f"calls<br>{_served_mix(r)}<br>fingerprint {fingerprint}")
    if not bars:
        return None
    traces: list[dict[str, Any]] = [
        {"type": "bar", "orientation": "h", "name": model, "base": g["base"], "x": g["x"],
         "y": g["y"], "text": g["text"], "hovertext": g["hover"], "textposition": "inside",
         "insidetextanchor": "start", "textfont": {"color": "white", "size": 11},
         "marker": {"color": colours.of(model), "line": {"color": "white", "width": 2}},
         "hovertemplate": "%{hovertext}<extra></extra>"}
        for model, g in bars.items()
    ]
    marks: dict[str, dict[str, list[Any]]] = {}
    for report in data.keys:
        for alert in report.alerts:
            m = marks.setdefault(alert.kind, {"x": [], "y": [], "text": []})
            m["x"].append(int(alert.detected_at.timestamp() * 1000))
            m["y"].append(report.key.slug())
            m["text"].append(_alert_hover(alert))
    for kind, m in marks.items():
        traces.append({"type": "scatter", "mode": "markers", "name": f"{kind} alert",
                       "x": m["x"], "y": m["y"], "text": m["text"],
                       "marker": {"symbol": "diamond", "size": 11, "color": _ALERT_COLOURS.get(
                           kind, "#444"), "line": {"color": "white", "width": 1}},
                       "hovertemplate": "%{text}<extra></extra>"})
    n_keys = len({report.key.slug() for report in data.keys if report.regimes})
    layout = {"height": 90 + 28 * n_keys, "barmode": "overlay", "font": _FONT,
              "uniformtext": {"mode": "hide", "minsize": 9},
              "margin": {"l": 20, "r": 20, "t": 10, "b": 30}, "plot_bgcolor": "white",
              "xaxis": {"type": "date", "gridcolor": "#eee"},
              "yaxis": {"automargin": True, "autorange": "reversed", "type": "category"},
              "legend": {"orientation": "h", "y": -0.12 - 2.0 / max(n_keys, 4) / 4},
              "hoverlabel": {"align": "left"}}
    return {"id": fig_id, "x": None, "data": traces, "layout": layout}


def report_figures(data: ReportData,
                   colours: Palette | None = None) -> tuple[list[Figure], dict[str, str]]:
    """All figures in page order, and which figure id belongs to which section anchor.

    ``colours`` is filled as names are met, so that tables can use the charts' colours.
    """
    colours = colours if colours is not None else Palette()
    figures: list[Figure] = []
    sections: dict[str, str] = {}
    end_ms = ms(data.last_ns)
    timeline = timeline_figure(data, "fig-timeline", colours)
    if timeline is not None:
        figures.append(timeline)
        sections["timeline"] = timeline["id"]
    for i, series in enumerate(data.surfaces):
        alerts = [a for a in data.alerts if a.key.surface == series.surface]
        fig = surface_figure(series, alerts, f"fig-surface-{i}", colours)
        figures.append(fig)
        sections[f"surface-{i}"] = fig["id"]
    for i, report in enumerate(data.keys):
        fig = key_figure(report, f"fig-key-{i}", colours, end_ms)
        figures.append(fig)
        sections[report.anchor] = fig["id"]
    return figures, sections
