"""Print how long the test broker takes to fetch, start, restart and stop.

    .venv/bin/python deploy/kafka/measure_start.py [--runs 3] [--cold]

"start" is from launching run-broker.sh to the first metadata answer a kafka-python client
gets (tests/kafka_harness.py); a fresh start includes formatting the storage. ``--cold`` first
downloads everything into empty temporary caches (Maven's repository and the jar cache), as
on a new machine. Run ``KAFKA_CDS=0 ...`` to compare without class data sharing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

from kafka_harness import KafkaBroker, fetch_kafka_jars


def measure_cold_fetch() -> float:
    with tempfile.TemporaryDirectory(prefix="swapwatch-cold-") as scratch:
        os.environ["SWAPWATCH_CACHE"] = str(Path(scratch) / "cache")
        saved = os.environ.get("MAVEN_OPTS")
        os.environ["MAVEN_OPTS"] = f"-Dmaven.repo.local={Path(scratch) / 'm2'}"
        try:
            began = time.monotonic()
            fetch_kafka_jars()
            return time.monotonic() - began
        finally:
            os.environ.pop("SWAPWATCH_CACHE")
            if saved is None:
                os.environ.pop("MAVEN_OPTS")
            else:
                os.environ["MAVEN_OPTS"] = saved


def measure_broker() -> dict[str, float]:
    broker = KafkaBroker()
    try:
        broker.start()
        times = {"fresh start": broker.last_start_s or 0.0}
        for name, kill in (("restart after stop", False), ("restart after crash", True)):
            began = time.monotonic()
            broker.halt(kill=kill)
            if not kill:
                times["clean stop"] = time.monotonic() - began
            broker.start()
            times[name] = broker.last_start_s or 0.0
        return times
    finally:
        broker.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="also time a download from nothing")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    if args.cold:
        print(f"cold fetch (Maven download of all jars): {measure_cold_fetch():.1f} s")
    began = time.monotonic()
    fetch_kafka_jars()
    print(f"warm fetch (cache hit): {time.monotonic() - began:.2f} s")
    runs = [measure_broker() for _ in range(args.runs)]
    for name in runs[0]:
        values = [run[name] for run in runs]
        print(f"{name:>20}: median {statistics.median(values):5.2f} s  "
              f"(runs: {', '.join(f'{v:.2f}' for v in values)})")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
