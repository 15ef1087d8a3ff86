"""A real Apache Kafka broker (KRaft), fetched and started by helpline itself.

* :func:`fetch` resolves ``org.apache.kafka:kafka_<scala>:<version>`` and its runtime
  dependencies from Maven Central with the machine's ``mvn`` into a versioned cache
  (``.cache/kafka/<version>-<scala>/libs``); a finished fetch is marked and never repeated.
* :class:`KafkaCluster` formats KRaft storage and starts one combined broker/controller, or
  three for fault tests, on free loopback ports; waits until the broker answers; stops cleanly
  (SIGTERM, then SIGKILL after a timeout); can kill and restart single nodes.
* ``helpline kafka up|down|status`` (see ``runtime.commands``) keep one local broker running in
  the background, its ports and pids in ``<state_dir>/cluster.json``.

A user who runs their own Kafka sets ``kafka.bootstrap_servers`` and nothing is started.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.errors import BrokerUnavailable, MissingTool
from runtime.settings import LocalKafkaSettings, Settings

MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
STATE_FILE = "cluster.json"
JDK_HINT = "install a JDK 17+ (Debian: apt-get install openjdk-17-jre-headless)"

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>helpline</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId><artifactId>kafka_{scala}</artifactId>
      <version>{version}</version>
    </dependency>
    <!-- Kafka logs through SLF4J; this routes it to log4j2 so the broker log is readable. -->
    <dependency>
      <groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId>
      <version>2.24.3</version>
    </dependency>
  </dependencies>
</project>
"""

_LOG4J2 = """status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.org.name = org.apache.kafka
logger.org.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
"""


def _require(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise MissingTool(f"'{tool}' was not found on PATH: {hint}")
    return path


def fetch(cfg: LocalKafkaSettings, root: Path) -> Path:
    """Return the directory holding the broker's jars, fetching them on first use."""
    libs = (root / cfg.cache_dir / f"{cfg.version}-{cfg.scala}" / "libs").resolve()
    marker = libs.parent / ".complete"
    if marker.exists() and any(libs.glob("kafka_*.jar")):
        return libs
    mvn = _require("mvn", "install Maven (Debian: apt-get install maven) and a JDK 17+")
    _require("java", JDK_HINT)
    libs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="helpline-kafka-fetch-") as tmp:
        pom = Path(tmp) / "pom.xml"
        pom.write_text(_POM.format(scala=cfg.scala, version=cfg.version), encoding="utf-8")
        cmd = [
            mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}", "-DincludeScope=runtime",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not any(libs.glob("kafka_*.jar")):
        detail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        raise MissingTool(
            f"could not fetch Apache Kafka {cfg.version} from Maven Central:\n" + "\n".join(detail)
        )
    marker.write_text(f"{cfg.version}\n", encoding="utf-8")
    return libs


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def new_cluster_id() -> str:
    """A Kafka UUID (22 url-safe base64 characters). Like Kafka's own ``Uuid.randomUuid`` it
    never starts with ``-``, which the storage tool would read as an option."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


@dataclass
class KafkaNode:
    node_id: int
    port: int
    controller_port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None
    pid: int | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.directory / "logs" / "server.log"


@dataclass
class KafkaCluster:
    """One or three local KRaft nodes, each broker and controller, on loopback."""

    libs: Path
    base_dir: Path
    size: int = 1
    heap: str = "512m"
    start_timeout_s: float = 90.0
    cluster_id: str = field(default_factory=new_cluster_id)
    nodes: list[KafkaNode] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        return ",".join(n.address for n in self.nodes)

    # -- lifecycle -----------------------------------------------------------------------

    def prepare(self) -> None:
        """Pick ports, write configs and format storage (first start only)."""
        if self.nodes:
            return
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.nodes = [
            KafkaNode(i + 1, free_port(), free_port(), self.base_dir / f"node{i + 1}")
            for i in range(self.size)
        ]
        for node in self.nodes:
            (node.directory / "logs").mkdir(parents=True, exist_ok=True)
            (node.directory / "server.properties").write_text(self._properties(node))
            (node.directory / "log4j2.properties").write_text(_LOG4J2)
            self._format(node)

    def start(self) -> KafkaCluster:
        self.prepare()
        for node in self.nodes:
            self._launch(node)
        self.wait_ready()
        return self

    def stop(self, timeout_s: float = 20.0) -> None:
        for node in self.nodes:
            self._signal(node, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for node in self.nodes:
            while self._alive(node) and time.monotonic() < deadline:
                time.sleep(0.1)
            if self._alive(node):
                self._signal(node, signal.SIGKILL)
            if node.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    node.process.wait(timeout=5)
            node.process = None
            node.pid = None

    def kill(self, node_id: int) -> None:
        """SIGKILL one node (fault tests)."""
        node = self.nodes[node_id - 1]
        self._signal(node, signal.SIGKILL)
        if node.process is not None:
            node.process.wait(timeout=10)
        node.process = None
        node.pid = None

    def restart(self, node_id: int) -> None:
        node = self.nodes[node_id - 1]
        if self._alive(node):
            self.kill(node_id)
        self._launch(node)
        self._wait_node(node, time.monotonic() + self.start_timeout_s)

    def stop_node(self, node_id: int, timeout_s: float = 30.0) -> None:
        """Stop one node cleanly (SIGTERM, SIGKILL after ``timeout_s``); fault tests."""
        node = self.nodes[node_id - 1]
        self._signal(node, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while self._alive(node) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.kill(node_id)

    def freeze(self, node_id: int) -> None:
        """SIGSTOP one node: alive but silent, as a long GC pause or a hung VM; fault tests."""
        self._signal(self.nodes[node_id - 1], signal.SIGSTOP)

    def thaw(self, node_id: int) -> None:
        self._signal(self.nodes[node_id - 1], signal.SIGCONT)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        for node in self.nodes:
            self._wait_node(node, deadline)

    # -- state file (for `helpline kafka up` running in the background) -------------------

    def save(self) -> None:
        state = {
            "cluster_id": self.cluster_id,
            "libs": str(self.libs),
            "nodes": [
                {"node_id": n.node_id, "port": n.port, "controller_port": n.controller_port,
                 "directory": str(n.directory), "pid": n.pid}
                for n in self.nodes
            ],
        }
        (self.base_dir / STATE_FILE).write_text(json.dumps(state, indent=2))

    @classmethod
    def load(cls, base_dir: Path) -> KafkaCluster | None:
        path = base_dir / STATE_FILE
        if not path.exists():
            return None
        state = json.loads(path.read_text())
        cluster = cls(libs=Path(state["libs"]), base_dir=base_dir, size=len(state["nodes"]),
                      cluster_id=state["cluster_id"])
        cluster.nodes = [
            KafkaNode(n["node_id"], n["port"], n["controller_port"], Path(n["directory"]),
                      pid=n["pid"])
            for n in state["nodes"]
        ]
        return cluster

    def running(self) -> bool:
        return bool(self.nodes) and all(self._alive(n) for n in self.nodes)

    # -- internals ------------------------------------------------------------------------

    def _properties(self, node: KafkaNode) -> str:
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        rf = min(3, self.size)
        props: dict[str, Any] = {
            "process.roles": "broker,controller",
            "node.id": node.node_id,
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:"
                         f"{node.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(node.directory / "data"),
            "num.partitions": 4,
            "default.replication.factor": rf,
            "min.insync.replicas": 1 if self.size == 1 else 2,
            "offsets.topic.replication.factor": rf,
            "offsets.topic.num.partitions": 8,
            "transaction.state.log.replication.factor": rf,
            "transaction.state.log.min.isr": 1 if self.size == 1 else 2,
            "transaction.state.log.num.partitions": 8,
            "share.coordinator.state.topic.replication.factor": rf,
            "share.coordinator.state.topic.min.isr": 1,
            "group.initial.rebalance.delay.ms": 0,
            # A killed node is noticed in ~3 s instead of 9 s, so leadership moves quickly.
            "broker.session.timeout.ms": 3000,
            "broker.heartbeat.interval.ms": 500,
            # Every topic helpline uses is created explicitly with its retention/compaction.
            "auto.create.topics.enable": "false",
            "log.segment.bytes": 64 * 1024 * 1024,
            "log.cleaner.dedupe.buffer.size": 8 * 1024 * 1024,
        }
        return "".join(f"{k}={v}\n" for k, v in props.items())

    def _java(self, node: KafkaNode) -> list[str]:
        java = _require("java", JDK_HINT)
        return [
            java, f"-Xms{self.heap}", f"-Xmx{self.heap}", "-XX:+UseG1GC",
            "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={node.directory / 'logs'}",
            f"-Dlog4j2.configurationFile={node.directory / 'log4j2.properties'}",
            "-cp", str(self.libs / "*"),
        ]

    def _format(self, node: KafkaNode) -> None:
        if (node.directory / "data" / "meta.properties").exists():
            return
        cmd = [*self._java(node), STORAGE_TOOL, "format", "-t", self.cluster_id,
               "-c", str(node.directory / "server.properties")]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise BrokerUnavailable(
                node.address, f"storage format failed: {(proc.stdout + proc.stderr).strip()[-800:]}"
            )

    def _launch(self, node: KafkaNode) -> None:
        out = open(node.directory / "logs" / "stdout.log", "ab")
        node.process = subprocess.Popen(
            [*self._java(node), MAIN_CLASS, str(node.directory / "server.properties")],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        out.close()
        node.pid = node.process.pid

    def _wait_node(self, node: KafkaNode, deadline: float) -> None:
        while time.monotonic() < deadline:
            if not self._alive(node):
                raise BrokerUnavailable(node.address, "broker exited during start-up:\n" +
                                        _tail(node.directory / "logs" / "stdout.log") +
                                        _tail(node.log_file))
            if _started(node.log_file) and _port_open(node.port):
                return
            time.sleep(0.2)
        raise BrokerUnavailable(node.address, f"not ready after {self.start_timeout_s:.0f}s; "
                                f"see {node.log_file}")

    @staticmethod
    def _alive(node: KafkaNode) -> bool:
        if node.process is not None:
            return node.process.poll() is None
        if node.pid is None:
            return False
        try:
            os.kill(node.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        # a zombie or a reused pid: check it is still a java process of ours
        try:
            cmdline = Path(f"/proc/{node.pid}/cmdline").read_bytes()
        except OSError:
            return False
        return MAIN_CLASS.encode() in cmdline and str(node.directory).encode() in cmdline

    def _signal(self, node: KafkaNode, sig: int) -> None:
        if not self._alive(node):
            return
        pid = node.process.pid if node.process is not None else node.pid
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) + "\n"
    except OSError:
        return ""


def _started(log_file: Path) -> bool:
    try:
        with open(log_file, "rb") as f:
            return b"Kafka Server started" in f.read()
    except OSError:
        return False


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


# -- helpers used by the CLI and the test fixtures ------------------------------------------


def project_root() -> Path:
    """Where relative cache/state dirs are anchored: the current directory."""
    return Path.cwd()


def state_dir(settings: Settings) -> Path:
    return (project_root() / settings.local_kafka.state_dir).resolve()


def local_cluster(settings: Settings) -> KafkaCluster | None:
    cluster = KafkaCluster.load(state_dir(settings))
    return cluster if cluster is not None and cluster.running() else None


def resolve_bootstrap(settings: Settings) -> str:
    """The configured bootstrap servers, else the local broker from `helpline kafka up`."""
    if settings.kafka.bootstrap_servers:
        return settings.kafka.bootstrap_servers
    cluster = local_cluster(settings)
    if cluster is None:
        raise BrokerUnavailable(
            "(none configured)",
            "set HELPLINE_KAFKA__BOOTSTRAP_SERVERS or run `helpline kafka up`",
        )
    return cluster.bootstrap


@contextlib.contextmanager
def running_cluster(
    cfg: LocalKafkaSettings, base_dir: Path, size: int = 1, root: Path | None = None
) -> Iterator[KafkaCluster]:
    """Start a cluster for the duration of a block (tests, benchmarks)."""
    libs = fetch(cfg, root or project_root())
    cluster = KafkaCluster(libs=libs, base_dir=base_dir, size=size, heap=cfg.heap,
                           start_timeout_s=cfg.start_timeout_s)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
