"""The live terminal view of a demo run: rich on a terminal, plain periodic lines elsewhere.

:func:`key_rows` turns a :class:`~swapwatch.detector.demo.tap.LiveView` into table rows (a
pure function); :class:`LiveDisplay` draws them, with a progress bar and the alerts so far,
through ``rich.live`` on a TTY, or as one line every few seconds (and one per alert) when
standard output is a file or a pipe (CI, tests).

>>> from swapwatch.detector.demo.tap import KeyView, LiveView
>>> from swapwatch.detector.detection.keys import SeriesKey
>>> k = KeyView(SeriesKey("shop", "qa", "openai", "gpt-4-turbo", "prod"), calls=40,
...             served={"gpt-4-turbo-2024-04-09": 30, "gpt-4o": 10}, shifted=["fingerprint"],
...             warm=True)
>>> key_rows(LiveView(calls=40, keys=[k], alerts=[], last_end_ns=0))[0][2:]
('40', 'gpt-4-turbo-2024-04-09 75%, gpt-4o 25%', 'fingerprint', 'watching')
>>> plain_line(Status(0.5, 40, 100, 40, "12:00"), LiveView(40, [k], [], 0))
'[ 50%] sim 12:00  due 40/100  detected 40 | qa 40 shifted: fingerprint'
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import IO, Any

from swapwatch.detector.alerts.alert import Alert
from swapwatch.detector.demo.tap import KeyView, LiveView

PLAIN_EVERY_S = 5.0


@dataclass(frozen=True)
class Status:
    """Where the run is: fraction of the traffic's time, calls due by now and detected."""

    fraction: float
    due: int
    planned: int
    detected: int
    sim_clock: str  # simulated time of day, HH:MM
    phase: str = ""


def _status(key: KeyView, alerts: list[Alert]) -> str:
    kinds = {a.kind for a in alerts if a.status == "firing" and (
        a.key.surface == key.key.surface or (a.kind == "incident"
                                             and a.key.provider == key.key.provider))}
    if "swap" in kinds or "identity" in kinds:
        return "SWAP"
    if "incident" in kinds:
        return "provider incident"
    return "watching" if key.warm else "learning baseline"


def _shares(served: dict[str, int], top: int = 2) -> str:
    total = sum(served.values())
    if not total:
        return "-"
    ranked = sorted(served.items(), key=lambda item: -item[1])[:top]
    return ", ".join(f"{model} {100 * n / total:.0f}%" for model, n in ranked)


def key_rows(view: LiveView) -> list[tuple[str, str, str, str, str, str]]:
    """(surface, provider model, calls, served-model shares, shifted signals, status)."""
    return [(k.surface, f"{k.key.provider} {k.key.request_model}", str(k.calls),
             _shares(k.served), ", ".join(k.shifted) or "-", _status(k, view.alerts))
            for k in view.keys]


def plain_line(status: Status, view: LiveView) -> str:
    parts = [f"{k.surface} {k.calls}" + (f" shifted: {', '.join(k.shifted)}" if k.shifted
                                         else "") for k in view.keys]
    return (f"[{100 * status.fraction:3.0f}%] sim {status.sim_clock}  due {status.due}/"
            f"{status.planned}  detected {status.detected} | " + "; ".join(parts))


def alert_line(alert: Alert) -> str:
    where = alert.key.surface or alert.key.provider or alert.key.slug()
    return (f"ALERT {alert.kind} {alert.status} on {where}: {alert.summary} "
            f"(detected {alert.detected_at:%H:%M:%S})")


class LiveDisplay:
    """Draws the run; ``rich`` when ``live`` (default: standard output is a terminal)."""

    def __init__(self, title: str, live: bool | None = None, out: IO[str] | None = None,
                 clock: Any = time.monotonic) -> None:
        self.out = out or sys.stdout
        self.title = title
        self.live = self.out.isatty() if live is None else live
        self._clock = clock
        self._last_plain = -PLAIN_EVERY_S
        self._alerts_shown = 0
        self._rich: Any = None

    def start(self) -> LiveDisplay:
        if self.live:
            from rich.console import Console
            from rich.live import Live

            self._rich = Live(console=Console(file=self.out), refresh_per_second=4,
                              transient=False)
            self._rich.start()
        return self

    def update(self, status: Status, view: LiveView) -> None:
        if self._rich is not None:
            self._rich.update(self._render(status, view))
            return
        for alert in view.alerts[self._alerts_shown:]:
            print(alert_line(alert), file=self.out, flush=True)
        self._alerts_shown = len(view.alerts)
        now = self._clock()
        if now - self._last_plain >= PLAIN_EVERY_S:
            self._last_plain = now
            print(plain_line(status, view), file=self.out, flush=True)

    def stop(self) -> None:
        if self._rich is not None:
            self._rich.stop()
            self._rich = None

    def _render(self, status: Status, view: LiveView) -> Any:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        head = Text.assemble((self.title, "bold"), "  ",
                             (f"simulated clock {status.sim_clock}", "cyan"), "  ",
                             (status.phase, "magenta"))
        bar = Table.grid(padding=(0, 1))
        bar.add_row(ProgressBar(total=1.0, completed=min(status.fraction, 1.0), width=50),
                    Text(f"{100 * status.fraction:3.0f}%  calls due {status.due}/{status.planned}"
                         f"  detected {status.detected}"))
        table = Table(expand=False, header_style="bold")
        for column in ("surface", "model", "calls", "served model", "signals shifted",
                       "status"):
            table.add_column(column, justify="right" if column == "calls" else "left")
        styles = {"SWAP": "bold red", "provider incident": "yellow", "watching": "green"}
        for row in key_rows(view):
            table.add_row(*row[:5], Text(row[5], style=styles.get(row[5], "dim")))
        alerts = Text()
        for alert in view.alerts[-8:]:
            colour = {"swap": "bold red", "identity": "red", "incident": "yellow"}.get(
                alert.kind, "white")
            alerts.append(alert_line(alert) + "\n", style=colour)
        return Group(head, bar, table, alerts or Text("no alerts yet", style="dim"))
