"""The deployment, end to end: a service using the real openai SDK, instrumented by swapwatch
(``swapwatch.instrumentation.configure`` and a ``surface`` block), talks to the simulated
provider, whose model is swapped at a scheduled time; its spans go over OTLP/gRPC to
``swapwatch collect``, through Kafka, to ``swapwatch detect``, which pages (JSONL destination)
about the swap."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from kafka_harness import free_port
from swapwatch.detector.simulator.behaviour import FixedBehaviour, ScheduledBehaviour
from swapwatch.detector.simulator.provider import ProviderServer

pytestmark = pytest.mark.kafka
ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

SERVICE = """
import os, time, openai
import swapwatch.instrumentation as swi
provider = swi.configure(service_name="shop", endpoint=os.environ["COLLECT"], protocol="grpc")
client = openai.OpenAI(base_url=os.environ["SIM_OPENAI_URL"], api_key="sim", max_retries=0)
print("ready", flush=True)
deadline = time.time() + float(os.environ["RUN_FOR"])
i = 0
with swi.surface("order-summaries"):
    while time.time() < deadline:
        client.chat.completions.create(model="gpt-4o", messages=[
            {"role": "user", "content": "Summarise order %d in one line." % i}], max_tokens=40)
        i += 1
        time.sleep(0.05)
provider.shutdown()
"""


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _wait(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_openai_sdk_to_alert_through_collect_and_kafka(
        kafka_bootstrap: str, kafka_topic: Callable[..., str], tmp_path: Path,
        processes: list[subprocess.Popen[bytes]]) -> None:
    spans = kafka_topic(2)
    grpc_port, http_port, metrics_port = free_port(), free_port(), free_port()
    collect_log = open(tmp_path / "collect.log", "wb")  # noqa: SIM115
    detect_log = open(tmp_path / "detect.log", "wb")  # noqa: SIM115
    processes.append(subprocess.Popen(
        [str(BIN / "swapwatch"), "collect", "--kafka", kafka_bootstrap, "--topic", spans,
         "--grpc", f"127.0.0.1:{grpc_port}", "--http", f"127.0.0.1:{http_port}"],
        stdout=collect_log, stderr=subprocess.STDOUT, cwd=ROOT))
    config = tmp_path / "swapwatch.yaml"
    config.write_text(yaml.safe_dump({
        "runtime": {"checkpoint_interval_s": 1,
                    "kafka": {"calls_topic": f"{spans}.calls", "calls_partitions": 2,
                              "dead_letter_topic": f"{spans}.dlq"}},
        "alerts": {"route": {"group_wait": "1s"}}}))
    alerts = tmp_path / "alerts.jsonl"
    processes.append(subprocess.Popen(
        [str(BIN / "swapwatch"), "detect", "--kafka", kafka_bootstrap, "--topic", spans,
         "--group", f"{spans}.g", "--state-dir", str(tmp_path / "state"), "--config",
         str(config), "--alerts-out", str(alerts), "--metrics-port", str(metrics_port)],
        stdout=subprocess.DEVNULL, stderr=detect_log, cwd=ROOT))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SWAPWATCH_"))}
    with ProviderServer(FixedBehaviour(), speed=math.inf) as provider:
        env.update({"COLLECT": f"http://127.0.0.1:{grpc_port}", "OTEL_BSP_SCHEDULE_DELAY": "500",
                    "SIM_OPENAI_URL": provider.openai_base_url, "RUN_FOR": "12"})
        service = subprocess.Popen([sys.executable, "-c", SERVICE], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        processes.append(service)  # type: ignore[arg-type]
        assert service.stdout is not None and service.stdout.readline() == b"ready\n"
        # the provider quietly serves gpt-4o-mini from three seconds into the traffic on; the
        # nine seconds after outlast the reorder window (5 s) and the group wait (1 s)
        swap_at = time.time() + 3.0
        provider.behaviour = ScheduledBehaviour([
            (0.0, FixedBehaviour()),
            (swap_at, FixedBehaviour(snapshots={"gpt-4o": "gpt-4o-mini-2024-07-18"})),
        ])
        _, stderr = service.communicate(timeout=120)
    assert service.returncode == 0, stderr[-3000:]

    def paged() -> list[dict[str, object]]:
        if not alerts.exists():
            return []
        return [json.loads(line) for line in alerts.read_text().splitlines() if line.strip()]

    _wait(lambda: bool(paged()), 90, "the page")
    [alert] = paged()
    assert alert["kind"] == "identity" and alert["status"] == "firing"
    assert alert["key"]["surface"] == "order-summaries"  # type: ignore[index]
    assert alert["key"]["request_model"] == "gpt-4o"  # type: ignore[index]
    changed_at = alert["changed_at"]
    assert isinstance(changed_at, str)
    from datetime import datetime
    assert abs(datetime.fromisoformat(changed_at).timestamp() - swap_at) < 2.0
