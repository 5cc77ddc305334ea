"""``swapwatch regimes``: which artifact served a key, regime by regime, and at a given time.

Replays an OTLP JSON-lines file through the detection engine (event time, deterministic) and
prints each key's regime ledger: the stretches between change points with what served them.
``--at`` answers the bug-report question "what served this key at 15:00 last Tuesday?".

    swapwatch regimes --input spans.jsonl
    swapwatch regimes --input spans.jsonl --key surface=autocomplete,request_model=gpt-4o \\
        --at 2026-03-02T15:00:00Z --json
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from swapwatch.detector.commands._input import SkippedLines, input_source
from swapwatch.detector.config import ConfigError, load_config
from swapwatch.detector.detection.keys import SeriesKey
from swapwatch.detector.detection.ledger import Regime, RegimeLedger, rfc3339

_MAX_ERRORS_SHOWN = 50
_KEY_FIELDS = SeriesKey._fields
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", "-i", required=True, metavar="FILE",
                        help="OTLP JSON-lines file (Collector file exporter format); - for stdin")
    parser.add_argument("--key", "-k", metavar="FIELD=VALUE,...",
                        help=f"only keys whose fields match ({', '.join(_KEY_FIELDS)})")
    parser.add_argument("--at", metavar="RFC3339",
                        help="show only the regime that served at this time, e.g. "
                             "2026-03-02T15:00:00Z")
    parser.add_argument("--json", action="store_true", help="one JSON document instead of tables")
    parser.add_argument("--config", "-c", metavar="YAML", help="swapwatch configuration file")


def parse_key_filter(text: str | None) -> dict[str, str]:
    """``surface=chat,request_model=gpt-4o`` → a field → value filter (``ValueError`` if bad).

    >>> parse_key_filter("surface=autocomplete, request_model=gpt-4o")
    {'surface': 'autocomplete', 'request_model': 'gpt-4o'}
    >>> parse_key_filter("colour=red")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown key field 'colour'; fields: service, surface, provider, ...
    """
    wanted: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep:
            raise ValueError(f"expected FIELD=VALUE, got {part.strip()!r}")
        if name not in _KEY_FIELDS:
            raise ValueError(f"unknown key field {name!r}; fields: {', '.join(_KEY_FIELDS)}")
        wanted[name] = value.strip()
    return wanted


def parse_time(text: str) -> int:
    """An RFC 3339 time (``Z`` or an offset; naive means UTC) → unix nanoseconds.

    >>> parse_time("2026-03-02T15:00:00Z")
    1772463600000000000
    """
    moment = datetime.fromisoformat(text.strip().replace("z", "Z"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def key_matches(key: SeriesKey, wanted: dict[str, str]) -> bool:
    """True when every field in ``wanted`` equals the key's (``-`` matches an absent field)."""
    return all((getattr(key, name) or "-") == value for name, value in wanted.items())


def _top(counts: dict[str, int], n: int = 2) -> str:
    total = sum(counts.values())
    if not total:
        return "-"
    best = sorted(counts.items(), key=lambda kv: -kv[1])[:n]
    text = " ".join(f"{name} {count / total:.0%}" for name, count in best)
    return text + (f" +{len(counts) - n}" if len(counts) > n else "")


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def regime_rows(regimes: list[Regime]) -> list[list[str]]:
    """Table rows (header first) for one key's regimes."""
    rows = [["#", "start", "end", "calls", "served models", "fingerprints", "decode tok/s",
             "output tok", "opened by"]]
    for r in regimes:
        opened = r.opened_by + (f" ({', '.join(r.opened_signals)})" if r.opened_signals else "")
        if r.mixed_calls:
            opened += f" ~{r.mixed_calls} calls of the next regime counted here"
        rows.append([str(r.index), r.start or "-", r.end or "open", str(r.calls),
                     _top(r.served_models), _top(r.fingerprints), _number(r.median_decode_rate),
                     _number(r.median_output_tokens), opened])
    return rows


def format_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                     for row in rows)


def _replay(args: argparse.Namespace) -> tuple[list[tuple[SeriesKey, RegimeLedger]], int] | int:
    from swapwatch.detector.detection.engine import Detector
    from swapwatch.detector.ingest.decode import iter_calls_from_file
    from swapwatch.detector.ingest.errors import IngestStats

    try:
        config = load_config(args.config)
    except (ConfigError, OSError) as err:
        print(f"swapwatch regimes: {err}", file=sys.stderr)
        return 2
    detector = Detector(config.detection)
    stats = IngestStats()
    report = SkippedLines(args.input, _MAX_ERRORS_SHOWN)
    source = input_source(args.input)
    try:
        for call in iter_calls_from_file(source, config.ingest, on_error=report, stats=stats):
            detector.process(call)
        detector.flush()
    except OSError as err:
        print(f"swapwatch regimes: cannot read {args.input}: {err}", file=sys.stderr)
        return 2
    if stats.messages and stats.messages == stats.malformed_messages:
        print(f"swapwatch regimes: nothing readable in {args.input}", file=sys.stderr)
        return 1
    return detector.ledgers(), detector.calls_seen


def run(args: argparse.Namespace) -> int:
    try:
        wanted = parse_key_filter(args.key)
        at_ns = parse_time(args.at) if args.at else None
    except ValueError as err:
        print(f"swapwatch regimes: {err}", file=sys.stderr)
        return 2
    replayed = _replay(args)
    if isinstance(replayed, int):
        return replayed
    ledgers, calls = replayed
    chosen = sorted(((k, led) for k, led in ledgers if key_matches(k, wanted)),
                    key=lambda kv: kv[0].slug())
    if not chosen:
        print(f"swapwatch regimes: no key matches {args.key!r} among {len(ledgers)} keys "
              f"({calls} calls)", file=sys.stderr)
        return 1
    if args.json:
        doc: dict[str, Any] = {"at": rfc3339(at_ns), "keys": []}
        for key, ledger in chosen:
            entry: dict[str, Any] = {"key": key._asdict(), "slug": key.slug(),
                                     "dropped_regimes": ledger.dropped_regimes}
            if at_ns is None:
                entry["regimes"] = [r.model_dump() for r in ledger.regimes()]
            else:
                found = ledger.regime_at(at_ns)
                entry["regime"] = None if found is None else found.model_dump()
            doc["keys"].append(entry)
        print(json.dumps(doc, indent=1))
        return 0
    blocks = []
    for key, ledger in chosen:
        if at_ns is None:
            regimes = ledger.regimes()
            title = f"{key.slug()}: {len(regimes)} regime(s)"
            if ledger.dropped_regimes:
                title += f", {ledger.dropped_regimes} older dropped"
        else:
            found = ledger.regime_at(at_ns)
            regimes = [] if found is None else [found]
            title = f"{key.slug()} at {rfc3339(at_ns)}"
            if found is None:
                blocks.append(f"{title}: no regime kept for that time")
                continue
        blocks.append(title + "\n" + format_table(regime_rows(regimes)))
    print("\n\n".join(blocks))
    return 0
