"""``swapwatch silence add|list|expire``: mute matching alerts for a while.

Example: ``swapwatch silence add --state-dir /var/lib/swapwatch -m provider=openai
-m request_model=~gpt-4o.* --duration 2h --comment "planned migration"``. The running detector
picks the change up at its next event-time step; times are event time (ISO 8601, UTC).
"""

from __future__ import annotations

import argparse
import getpass
import json
from datetime import UTC, datetime

from swapwatch.detector.alerts.config import parse_duration
from swapwatch.detector.alerts.labels import parse_matcher
from swapwatch.detector.alerts.silences import Silence, SilenceStore
from swapwatch.detector.commands._state_dir import add_state_dir_arguments, parse_time, state_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    add = sub.add_parser("add", help="create a silence")
    add_state_dir_arguments(add)
    add.add_argument("-m", "--matcher", action="append", required=True,
                     help="name=value, name!=value, name=~regex or name!~regex (repeatable); "
                          "names: kind, service, surface, provider, request_model, "
                          "environment, tenant, severity, dedup_key")
    add.add_argument("--start", help="ISO 8601 start (default: now)")
    end = add.add_mutually_exclusive_group()
    end.add_argument("--end", help="ISO 8601 end")
    end.add_argument("--duration", default="2h", help="e.g. 30m, 2h, 1d (default 2h)")
    add.add_argument("--comment", default="")
    add.add_argument("--author", default=None)
    listing = sub.add_parser("list", help="show silences")
    add_state_dir_arguments(listing)
    listing.add_argument("--json", action="store_true")
    expire = sub.add_parser("expire", help="end a silence now (or at --at)")
    add_state_dir_arguments(expire)
    expire.add_argument("id")
    expire.add_argument("--at", help="ISO 8601 end time (default: now)")


def _describe(s: Silence, now: datetime) -> str:
    state = "active" if s.active(now) else ("pending" if now < s.starts_at else "expired")
    matchers = ",".join(f"{m.name}{m.op}{m.value}" for m in s.matchers)
    return (f"{s.id}  {state:8} {matchers}  {s.starts_at.isoformat()} → {s.ends_at.isoformat()}"
            f"  {s.created_by}: {s.comment}")


def run(args: argparse.Namespace) -> int:
    store = SilenceStore(state_dir(args))
    if args.action == "add":
        try:
            matchers = [parse_matcher(m) for m in args.matcher]
        except Exception as err:
            print(f"swapwatch silence: {err}")
            return 2
        start = parse_time(args.start)
        end = parse_time(args.end) if args.end else start + parse_duration(args.duration)
        author = args.author or getpass.getuser()
        silence = store.add(matchers, start, end, comment=args.comment, created_by=author)
        print(silence.id)
        return 0
    if args.action == "list":
        silences = store.load()
        if args.json:
            print(json.dumps([json.loads(s.model_dump_json()) for s in silences], indent=1))
        else:
            now = datetime.now(UTC)
            for s in silences:
                print(_describe(s, now))
        return 0
    try:
        expired = store.expire(args.id, parse_time(args.at))
    except KeyError as err:
        print(f"swapwatch silence: {err.args[0]}")
        return 1
    print(f"{expired.id} ends at {expired.ends_at.isoformat()}")
    return 0
