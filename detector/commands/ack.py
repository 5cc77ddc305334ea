"""``swapwatch ack KEY``: accept the new regime of a key; its swap alert resolves.

KEY is an alert's dedup key (``swap/api/chat/openai/gpt-4o/prod``) or its series slug
(``api/chat/openai/gpt-4o/prod``). The acknowledgement covers changes up to its time
(``--at``, default now); PagerDuty receives a resolve for the same dedup key.
"""

from __future__ import annotations

import argparse

from swapwatch.detector.alerts.acks import AckStore
from swapwatch.detector.commands._state_dir import add_state_dir_arguments, parse_time, state_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("key", nargs="?", help="dedup key or series slug of the alert")
    parser.add_argument("--at", help="ISO 8601 time of the acknowledgement (default: now)")
    parser.add_argument("--list", action="store_true", help="show acknowledgements")
    add_state_dir_arguments(parser)


def run(args: argparse.Namespace) -> int:
    store = AckStore(state_dir(args))
    if args.list:
        for ack in store.load():
            print(f"{ack.key}  {ack.at.isoformat()}")
        return 0
    if not args.key:
        print("swapwatch ack: give KEY (or --list)")
        return 2
    ack = store.add(args.key, parse_time(args.at))
    print(f"acknowledged {ack.key} at {ack.at.isoformat()}")
    return 0
