"""A real Apache Kafka 4.x broker for tests, run from ``deploy/kafka/run-broker.sh``.

The shell scripts in ``deploy/kafka/`` are the one source of truth for the Kafka version, the
download of its jars and the broker's configuration; this module only chooses free ports and a
storage folder, runs the script as a subprocess in its own process group, waits until a
kafka-python client gets cluster metadata, and stops it again.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

DEPLOY_DIR = Path(__file__).resolve().parents[1] / "deploy" / "kafka"
FETCH_JARS = DEPLOY_DIR / "fetch-jars.sh"
RUN_BROKER = DEPLOY_DIR / "run-broker.sh"
HOST = "127.0.0.1"
_TOPIC_UNSAFE = re.compile(r"[^a-zA-Z0-9._-]+")


class KafkaBrokerError(RuntimeError):
    """The broker could not be fetched, started or stopped; the message carries its log tail."""


def fetch_kafka_jars(timeout_s: float = 900.0) -> Path:
    """Return the folder of Kafka's jars, downloading them once (``deploy/kafka/fetch-jars.sh``)."""
    try:
        done = subprocess.run([str(FETCH_JARS)], capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise KafkaBrokerError(f"fetching Kafka's jars took over {timeout_s:.0f} s") from exc
    if done.returncode != 0:
        raise KafkaBrokerError(f"{FETCH_JARS} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return Path(done.stdout.strip())


def free_port(avoid: Iterable[int] = ()) -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (and not one of ``avoid``)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((HOST, 0))
            port = int(probe.getsockname()[1])
        if port not in set(avoid):
            return port


def topic_name(hint: str, suffix: str) -> str:
    """A legal, readable topic name from a free-form hint (say, a test's name).

    >>> topic_name("test_resume[otlp proto]", "1a2b")
    'swapwatch-test_resume-otlp-proto-1a2b'
    """
    slug = _TOPIC_UNSAFE.sub("-", hint).strip("-.")[:80]
    return f"swapwatch-{slug}-{suffix}"


def create_topic(bootstrap: str, name: str, partitions: int = 1, timeout_s: float = 30.0) -> None:
    """Create ``name`` with ``partitions`` partitions and wait until every one has a leader."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="swapwatch-test-admin",
                             request_timeout_ms=int(timeout_s * 1000))
    try:
        admin.create_topics({name: {"num_partitions": partitions, "replication_factor": 1}},
                            timeout_ms=int(timeout_s * 1000), wait_for_metadata=True)
    finally:
        admin.close()


class KafkaBroker:
    """One single-node Kafka broker (KRaft, broker and controller in one JVM) on 127.0.0.1.

    The first ``start()`` picks free ports and a temporary storage folder; ``halt()`` and
    ``restart()`` keep both, so the broker comes back with the same address and data, as a
    real one does after a crash or a deploy. ``stop()`` (and leaving the ``with`` block)
    stops it and deletes the storage. The JVM runs in its own process group, receives SIGTERM
    if the thread that started it dies, and is stopped at interpreter exit at the latest.

    >>> from kafka import KafkaConsumer, KafkaProducer
    >>> with KafkaBroker() as broker:
    ...     producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    ...     _ = producer.send("spans", b"hello").get(timeout=30)
    ...     producer.close()
    ...     broker.restart()
    ...     consumer = KafkaConsumer("spans", bootstrap_servers=broker.bootstrap,
    ...                              auto_offset_reset="earliest", consumer_timeout_ms=20000)
    ...     print(next(iter(consumer)).value)
    ...     consumer.close()
    ...     storage = broker.data_dir
    b'hello'
    >>> storage.exists()
    False
    """

    def __init__(self, *, port: int | None = None, controller_port: int | None = None,
                 start_timeout_s: float = 90.0, stop_timeout_s: float = 30.0,
                 heap_opts: str | None = None, jvm_opts: str | None = None) -> None:
        self.port = port
        self.controller_port = controller_port
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.heap_opts = heap_opts
        self.jvm_opts = jvm_opts
        self._data_dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._last_start_s: float | None = None
        self._atexit_registered = False
        self._pick_ports = port is None and controller_port is None

    # -- what tests read ------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        """``"127.0.0.1:PORT"`` for kafka-python's ``bootstrap_servers``."""
        if self.port is None:
            raise KafkaBrokerError("the broker has not been started")
        return f"{HOST}:{self.port}"

    @property
    def data_dir(self) -> Path:
        """The storage folder (server.properties, logs/, kraft-logs/)."""
        if self._data_dir is None:
            raise KafkaBrokerError("the broker has not been started")
        return self._data_dir

    @property
    def running(self) -> bool:
        """Whether the broker's JVM is alive (it may still be starting)."""
        return self._process is not None and self._process.poll() is None

    @property
    def last_start_s(self) -> float | None:
        """Seconds from launching run-broker.sh (which formats new storage, then starts the
        JVM) to the first metadata answer, for the most recent start."""
        return self._last_start_s

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> KafkaBroker:
        """Start the broker and return once it answers metadata requests.

        After ``halt()`` this resumes on the same ports and storage.
        """
        if self.running:
            return self
        fetch_kafka_jars()
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True
        if self._data_dir is not None:
            self._launch()
            return self
        pick_ports = self._pick_ports
        if self.port is None:
            self.port = free_port(avoid=[self.controller_port or 0])
        if self.controller_port is None:
            self.controller_port = free_port(avoid=[self.port])
        for attempt in range(3 if pick_ports else 1):
            if attempt > 0:
                self.port = free_port()
                self.controller_port = free_port(avoid=[self.port])
            self._data_dir = Path(tempfile.mkdtemp(prefix="swapwatch-kafka-"))
            try:
                self._launch()
                return self
            except KafkaBrokerError as error:
                # Another process may take a probed port before the JVM binds it; then try
                # again on new ports (with new storage: the ports are written into it).
                if not pick_ports or attempt == 2 or "Address already in use" not in str(error):
                    raise
                self.stop()
        raise AssertionError("unreachable")

    def halt(self, *, kill: bool = False) -> None:
        """Stop the JVM but keep ports and storage: SIGTERM (a clean shutdown), then SIGKILL
        after ``stop_timeout_s``; ``kill=True`` sends SIGKILL at once, like a crash."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            self._signal_group(process, signal.SIGKILL if kill else signal.SIGTERM)
            try:
                process.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                self._signal_group(process, signal.SIGKILL)
                process.wait(timeout=self.stop_timeout_s)

    def restart(self, *, kill: bool = False) -> None:
        """``halt(kill=kill)`` then ``start()``: same ports, same storage, same data."""
        self.halt(kill=kill)
        self.start()

    def stop(self) -> None:
        """Stop the broker and delete its storage. Safe to call more than once."""
        self.halt()
        if self._data_dir is not None:
            shutil.rmtree(self._data_dir, ignore_errors=True)
            self._data_dir = None

    def __enter__(self) -> KafkaBroker:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the script's console output and of the broker's server.log."""
        if self._data_dir is None:
            return "(no storage folder)"
        parts = []
        for path in (self._data_dir / "console.log", self._data_dir / "logs" / "server.log"):
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path}\n" + "\n".join(tail))
        return "\n".join(parts) or "(no log written)"

    # -- internals ------------------------------------------------------------------------

    def _launch(self) -> None:
        env = dict(os.environ, KAFKA_PORT=str(self.port),
                   KAFKA_CONTROLLER_PORT=str(self.controller_port),
                   KAFKA_DATA_DIR=str(self.data_dir))
        if self.heap_opts is not None:
            env["KAFKA_HEAP_OPTS"] = self.heap_opts
        if self.jvm_opts is not None:
            env["KAFKA_JVM_OPTS"] = self.jvm_opts
        # setpriv's parent-death signal survives the script's exec into the JVM, so even a
        # SIGKILLed test run does not leave a broker behind.
        guard = ["setpriv", "--pdeathsig", "TERM"] if shutil.which("setpriv") else []
        started = time.monotonic()
        with open(self.data_dir / "console.log", "ab") as console:
            self._process = subprocess.Popen(
                [*guard, str(RUN_BROKER)], env=env, stdin=subprocess.DEVNULL, stdout=console,
                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_until_ready(started)
        except BaseException:
            self.halt(kill=True)
            raise
        self._last_start_s = time.monotonic() - started

    def _wait_until_ready(self, started: float) -> None:
        deadline = started + self.start_timeout_s
        while time.monotonic() < deadline:
            process = self._process
            if process is None or process.poll() is not None:
                code = None if process is None else process.returncode
                raise KafkaBrokerError(
                    f"the Kafka broker exited ({code}) before answering on {self.bootstrap}\n"
                    + self.log_tail())
            if self._answers_metadata():
                return
            time.sleep(0.1)
        raise KafkaBrokerError(
            f"the Kafka broker did not answer on {self.bootstrap} within "
            f"{self.start_timeout_s:.0f} s\n" + self.log_tail())

    def _answers_metadata(self) -> bool:
        # A plain connect first: cheap, and it keeps kafka-python from logging connection
        # errors for every poll while the JVM is still loading.
        try:
            with socket.create_connection((HOST, self.port or 0), timeout=0.5):
                pass
        except OSError:
            return False
        try:
            admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, bootstrap_timeout_ms=2000,
                                     request_timeout_ms=2000, client_id="swapwatch-harness")
        except (KafkaError, OSError):
            return False
        try:
            brokers = admin.describe_cluster()["brokers"]
            return any(not broker.get("is_fenced", False) for broker in brokers)
        except (KafkaError, OSError):
            return False
        finally:
            admin.close()

    @staticmethod
    def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
        # start_new_session made the script (then the JVM it execs) a process group leader.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signum)
