"""A real Apache Kafka broker: one combined broker+controller KRaft node, jars from Maven Central."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from devstack.child import Child
from devstack.paths import REPO_ROOT, local_dir
from devstack.processes import ensure_port_free, port_open, spawn, wait_until
from devstack.system import Logger, ensure_command

POM = REPO_ROOT / "deploy" / "kafka" / "pom.xml"
TOPICS = (
    "identity.users",
    "workspace.orgs",
    "billing.subscriptions",
    "invites.invitations",
    "skool.subscriptions",
)
PARTITIONS = 3


def libs_dir() -> Path:
    return local_dir() / "kafka" / "libs"


def ensure_jars(log: Logger) -> Path:
    """Resolve the broker's jars with Maven once; later runs reuse the cached folder."""
    target = libs_dir()
    marker = target / ".complete"
    if marker.exists() and marker.read_text() == POM.read_text():
        return target
    ensure_command("java", apt_package="openjdk-17-jre-headless")
    ensure_command("mvn", apt_package="maven")
    log(f"resolving Kafka broker jars from Maven Central into {target} (first run only)")
    if target.exists():
        shutil.rmtree(target)
    subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={target}",
            "-DincludeScope=runtime",
        ],
        check=True,
    )
    marker.write_text(POM.read_text())
    return target


@dataclass
class KafkaServer:
    """One KRaft node on 127.0.0.1:`port` (controller on `controller_port`), data in `data_dir`."""

    port: int
    controller_port: int
    data_dir: Path
    heap: str = "512m"
    child: Child = field(init=False)
    _command: list[str] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.child = Child(
            name="kafka",
            log_file=self.log_file,
            spawn=self._spawn,
            is_ready=self._answers,
            stop_timeout=30,
        )

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self.child.process

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "logs" / "stdout.log"

    def _properties(self) -> Path:
        config = self.data_dir / "server.properties"
        config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={self.data_dir / 'log'}",
                    f"num.partitions={PARTITIONS}",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=6",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "group.initial.rebalance.delay.ms=0",
                    # After a kill -9 the restarted broker cannot register until the controller
                    # has expired the dead one's session: 4 s instead of 9 s (heartbeats 1 s).
                    "broker.heartbeat.interval.ms=1000",
                    "broker.session.timeout.ms=4000",
                    "auto.create.topics.enable=false",
                    "",
                ]
            )
        )
        return config

    def start(self, log: Logger) -> None:
        """Start the broker and create the topics (blocking; call it outside an event loop)."""
        self.launch(log)
        asyncio.run(create_topics(self.bootstrap))

    def launch(self, log: Logger) -> None:
        """Start the broker and wait until it listens. Call it from the main thread: a child
        started from a worker thread is killed when that thread ends (PR_SET_PDEATHSIG)."""
        for port in (self.port, self.controller_port):
            ensure_port_free(port, what="Kafka", hint="stop what holds it, or set KAFKA_BOOTSTRAP_SERVERS")
        self._prepare(log)
        process = self.child.start()
        wait_until(
            lambda: port_open(self.port),
            timeout=90,
            what="Kafka broker",
            process=process,
            log_file=self.log_file,
        )

    def _answers(self) -> bool:
        # The port first: a refused connection makes aiokafka log an error on every probe.
        return port_open(self.port) and asyncio.run(broker_answers(self.bootstrap))

    def _prepare(self, log: Logger) -> None:
        """Jars, configuration and (the first time only) formatted storage; restarts reuse them."""
        libs = ensure_jars(log)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self._properties()
        log4j = self.data_dir / "log4j2.properties"
        log4j.write_text(resources.files("devstack").joinpath("log4j2.properties").read_text())
        java = [
            "java",
            f"-Dkafka.logs.dir={self.data_dir / 'logs'}",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            f"{libs}/*",
        ]
        if not (self.data_dir / "log" / "meta.properties").exists():
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            log(f"formatting KRaft storage in {self.data_dir / 'log'} (cluster {cluster_id})")
            subprocess.run(
                [
                    *java,
                    "kafka.tools.StorageTool",
                    "format",
                    "--standalone",
                    f"--cluster-id={cluster_id}",  # an id may start with "-"
                    "-c",
                    str(config),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        heap = [f"-Xmx{self.heap}", f"-Xms{self.heap}", "-XX:+UseG1GC", "-XX:TieredStopAtLevel=1"]
        self._command = [*java[:1], *heap, *java[1:], "kafka.Kafka", str(config)]

    def _spawn(self) -> subprocess.Popen[bytes]:
        return spawn(self._command, log_file=self.log_file)

    def stop(self) -> None:
        self.child.stop()


async def create_topics(
    bootstrap: str,
    names: tuple[str, ...] = TOPICS,
    *,
    partitions: int = PARTITIONS,
    timeout: float = 60,
) -> None:
    """Create `names` and their `.dlq` topics and wait until every partition has a leader.

    Retries while the broker warms up. Waiting for the leaders matters: a consumer that subscribes
    to a topic the broker created but has not yet put in its metadata fails with
    UnknownTopicOrPartitionError.
    """
    wanted = [*names, *(f"{topic}.dlq" for topic in names)]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [name for name in wanted if name not in existing]
            if missing:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(
                        [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in missing]
                    )
            if await _all_led(admin, wanted):
                return
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise
        finally:
            await admin.close()
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"topics without a leader after {timeout}s: {wanted}")
        await asyncio.sleep(0.1)


async def _all_led(admin: AIOKafkaAdminClient, names: list[str]) -> bool:
    described = await admin.describe_topics(names)
    return len(described) == len(names) and all(
        topic["error_code"] == 0
        and topic["partitions"]
        and all(partition["leader"] >= 0 for partition in topic["partitions"])
        for topic in described
    )


async def broker_answers(bootstrap: str) -> bool:
    """Does the broker answer a metadata request (not just accept connections)?"""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
    try:
        await admin.start()
        await admin.list_topics()
        return True
    except Exception:
        return False
    finally:
        await admin.close()


async def end_offsets(bootstrap: str, topics: list[str]) -> dict[TopicPartition, int]:
    """The next offset of every partition of `topics` (how many records each has had)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    partitions = [
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        for partition in topic["partitions"]
    ]
    missing = set(topics) - {partition.topic for partition in partitions}
    if missing:
        raise LookupError(f"topics without partitions: {sorted(missing)}")
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()
