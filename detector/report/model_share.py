"""``DailyModelShare``: per surface and UTC day, the share of calls each served model answered.

The question a platform team asks every morning: "what actually served our chat surface
yesterday?" Shares, not counts, so that days of different traffic compare at a glance. A call
whose span did not report ``gen_ai.response.model`` counts as ``(not reported)``.

Bounded: the newest ``max_days`` days are kept (older ones dropped and counted), at most
``max_surfaces`` surfaces (later ones are counted under ``(other)``) and ``4 × max_values``
models per surface and day (rarer ones are ``(other)``).

>>> from swapwatch.detector.calls import LlmCall
>>> day = 86_400 * 10**9
>>> shares = DailyModelShare()
>>> for i, model in enumerate(["gpt-4o"] * 3 + ["gpt-4o-mini"] + ["gpt-4o-mini"] * 2):
...     t = (20_514 + i // 4) * day + i * 10**9  # four calls on 2026-03-02, two on 03-03
...     shares.observe(LlmCall(start_ns=t, end_ns=t, surface="chat", response_model=model))
>>> [(d.day, d.calls, d.shares) for d in shares.days("chat")]
[('2026-03-02', 4, {'gpt-4o': 0.75, 'gpt-4o-mini': 0.25}), ('2026-03-03', 2, {'gpt-4o-mini': 1.0})]
>>> print(format_model_share(shares))
surface chat: served-model share per UTC day
day         calls  gpt-4o  gpt-4o-mini
2026-03-02      4   75.0%        25.0%
2026-03-03      2    0.0%       100.0%
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from swapwatch.detector.calls import LlmCall
from swapwatch.detector.report.config import ReportConfig

OTHER = "(other)"
NOT_REPORTED = "(not reported)"
NO_SURFACE = "-"
_DAY_NS = 86_400 * 10**9


@dataclass(frozen=True)
class DayShare:
    """One surface on one UTC day: how many calls, and each served model's share of them."""

    surface: str
    day: str  # YYYY-MM-DD, UTC
    calls: int
    shares: dict[str, float]  # model -> share in [0, 1], largest first


class DailyModelShare:
    """Counts served models per surface per UTC day (see the module docstring)."""

    def __init__(self, config: ReportConfig | None = None) -> None:
        self.config = config or ReportConfig()
        self._counts: dict[str, dict[int, dict[str, int]]] = {}  # surface -> day -> model -> n
        self.dropped_days = 0
        self.dropped_calls = 0

    def observe(self, call: LlmCall) -> None:
        surface = call.surface or NO_SURFACE
        days = self._counts.get(surface)
        if days is None:
            if len(self._counts) >= self.config.max_surfaces:
                surface = OTHER
            days = self._counts.setdefault(surface, {})
        day = call.end_ns // _DAY_NS
        models = days.get(day)
        if models is None:
            if len(days) >= self.config.max_days:
                oldest = min(days)
                if day < oldest:  # older than everything kept: not worth a slot
                    self.dropped_calls += 1
                    return
                del days[oldest]
                self.dropped_days += 1
            models = days[day] = {}
        model = call.response_model or NOT_REPORTED
        if model not in models and len(models) >= 4 * self.config.max_values:
            model = OTHER
        models[model] = models.get(model, 0) + 1

    def surfaces(self) -> list[str]:
        return sorted(self._counts)

    def days(self, surface: str) -> list[DayShare]:
        """The surface's days, oldest first."""
        out = []
        for day, models in sorted(self._counts.get(surface, {}).items()):
            total = sum(models.values())
            ranked = sorted(models.items(), key=lambda kv: (-kv[1], kv[0]))
            out.append(DayShare(surface=surface, day=_date(day), calls=total,
                                shares={m: round(n / total, 4) for m, n in ranked}))
        return out

    def models(self, surface: str) -> list[str]:
        """The surface's served models, the most calls first over all kept days."""
        totals: dict[str, int] = {}
        for models in self._counts.get(surface, {}).values():
            for model, n in models.items():
                totals[model] = totals.get(model, 0) + n
        return [m for m, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))]


def _date(day: int) -> str:
    return datetime.fromtimestamp(day * 86_400, tz=UTC).date().isoformat()


def share_rows(shares: DailyModelShare, surface: str) -> list[list[str]]:
    """Table rows (header first) of one surface: a column per served model, percent cells."""
    models = shares.models(surface)
    rows = [["day", "calls", *models]]
    for day in shares.days(surface):
        rows.append([day.day, str(day.calls),
                     *(f"{100 * day.shares.get(m, 0.0):.1f}%" for m in models)])
    return rows


def format_model_share(shares: DailyModelShare) -> str:
    """The text report: one table per surface (``swapwatch report --model-share``)."""
    blocks = []
    for surface in shares.surfaces():
        rows = share_rows(shares, surface)
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = [f"surface {surface}: served-model share per UTC day"]
        for row in rows:
            cells = [row[0].ljust(widths[0])]
            cells += [cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True)]
            lines.append("  ".join(cells).rstrip())
        blocks.append("\n".join(lines))
    if shares.dropped_days:
        blocks.append(f"({shares.dropped_days} older day(s) dropped)")
    return "\n\n".join(blocks) if blocks else "no calls"
