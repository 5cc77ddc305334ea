"""Shared argument handling for commands that act on the alert state directory."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from swapwatch.detector.config import load_config


def add_state_dir_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="alert state directory (default: alerts.state_dir of --config)")
    parser.add_argument("--config", type=Path, default=None, help="swapwatch YAML config")


def state_dir(args: argparse.Namespace) -> Path:
    if args.state_dir is not None:
        return Path(args.state_dir)
    configured = load_config(args.config).alerts.state_dir
    if configured is None:
        raise SystemExit("no state directory: pass --state-dir or set alerts.state_dir")
    return configured


def parse_time(text: str | None) -> datetime:
    """ISO 8601 (naive means UTC); ``None`` means now. Operator actions are the one place
    where wall time enters: a live detector's event time follows the wall clock."""
    if text is None:
        return datetime.now(UTC)
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)
