"""A real Apache Kafka broker: one combined broker+controller KRaft node, jars from Maven Central.

Alone by default (its own single-voter quorum). As node `node_id` of a cluster (devstack.
kafka_cluster) it is given the static `controller.quorum.voters`, the cluster's id and the
cluster's `Replication`.

Plaintext by default (development, the test platform). With `KafkaSecurity` the broker is the
production posture of issue 16: clients on SASL_SSL with SCRAM-SHA-512 only, the controller on
mutual TLS (only the broker's own certificate gets in), StandardAuthorizer with no access where no
ACL grants it, and `admin` (created when the storage is formatted) the only SASL super user.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from devstack.child import Child
from devstack.kafka_tls import BROKER_PRINCIPAL, TlsFiles
from devstack.partitions import DEVELOPMENT, DEVELOPMENT_PARTITIONS, PartitionCountMismatch, TopicPartitions
from devstack.paths import REPO_ROOT, local_dir
from devstack.processes import ensure_port_free, port_open, spawn, wait_until
from devstack.system import Logger, ensure_command
from shared.messaging.kafka_connection import KafkaConnection, KafkaTarget, as_connection

POM = REPO_ROOT / "deploy" / "kafka" / "pom.xml"
TOPICS = (
    "identity.users",
    "workspace.orgs",
    "billing.subscriptions",
    "invites.invitations",
    "skool.subscriptions",
)
# The broker's default for a topic created without a count (the platform's own topics always
# get theirs from devstack.partitions).
PARTITIONS = DEVELOPMENT_PARTITIONS
ADMIN_PRINCIPAL = "admin"
SASL_MECHANISM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class Replication:
    """How many copies of each partition a cluster keeps, and how many must have a write.

    With three or more brokers: three copies, two of them in sync before an `acks=all` write
    is acknowledged, so one broker may die without losing or refusing a write. Fewer brokers
    keep what they can (a lone broker: one copy, as development always had).
    """

    factor: int
    min_insync: int

    @classmethod
    def for_brokers(cls, brokers: int) -> Replication:
        if brokers < 1:
            raise ValueError(f"a Kafka cluster needs at least one broker, not {brokers}")
        return cls(factor=min(3, brokers), min_insync=2 if brokers >= 3 else 1)

    def properties(self) -> list[str]:
        """The broker settings: every topic, the offsets topic and the transaction state log."""
        return [
            f"default.replication.factor={self.factor}",
            f"min.insync.replicas={self.min_insync}",
            f"offsets.topic.replication.factor={self.factor}",
            f"transaction.state.log.replication.factor={self.factor}",
            f"transaction.state.log.min.isr={self.min_insync}",
            f"share.coordinator.state.topic.replication.factor={self.factor}",
            f"share.coordinator.state.topic.min.isr={self.min_insync}",
        ]


SINGLE_BROKER = Replication.for_brokers(1)


@dataclass(frozen=True)
class KafkaSecurity:
    """What a secured broker needs: its TLS files and the password of its `admin` super user."""

    tls: TlsFiles
    admin_password: str = field(repr=False)

    def __post_init__(self) -> None:
        # The password is written into a JAAS line and the StorageTool's `[name=…,password=…]`:
        # quotes, commas or brackets would break them (secrets.token_urlsafe() never has any).
        if not re.fullmatch(r"[A-Za-z0-9_\-]{16,}", self.admin_password):
            raise ValueError("the Kafka admin password must be 16+ characters of [A-Za-z0-9_-]")


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
    """One KRaft node on 127.0.0.1:`port` (controller on `controller_port`), data in `data_dir`.

    `voters` None: a standalone node (its own quorum, a fresh cluster id when formatted). Set:
    node `node_id` of a static quorum (`1@127.0.0.1:9093,2@…`), formatted with `cluster_id`.
    """

    port: int
    controller_port: int
    data_dir: Path
    heap: str = "512m"
    security: KafkaSecurity | None = None
    name: str = "kafka"
    node_id: int = 1
    voters: str | None = None
    cluster_id: str | None = None
    replication: Replication = SINGLE_BROKER
    child: Child = field(init=False)
    _command: list[str] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        if self.voters is not None and self.cluster_id is None:
            raise ValueError("a node of a static quorum needs the cluster's id")
        self.child = Child(
            name=self.name,
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

    def admin_connection(self) -> KafkaConnection:
        """How the super user `admin` reaches this broker (a plaintext connection when unsecured)."""
        if self.security is None:
            return KafkaConnection(self.bootstrap)
        return KafkaConnection(
            bootstrap_servers=self.bootstrap,
            security_protocol="SASL_SSL",
            sasl_mechanism=SASL_MECHANISM,
            ssl_cafile=str(self.security.tls.ca_cert),
            username=ADMIN_PRINCIPAL,
            password=self.security.admin_password,
        )

    def _listener_lines(self) -> list[str]:
        if self.security is None:
            return [
                f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT",
            ]
        keystore = self._keystore(self.security.tls)
        jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{ADMIN_PRINCIPAL}" password="{self.security.admin_password}";'
        )
        return [
            f"listeners=SASL_SSL://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners=SASL_SSL://127.0.0.1:{self.port}",
            "controller.listener.names=CONTROLLER",
            # Clients: SASL (SCRAM-SHA-512 only) inside TLS. Controller: TLS with a client
            # certificate required, so only a holder of a CA-signed key (the broker) gets in.
            "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL",
            "inter.broker.listener.name=SASL_SSL",
            f"sasl.enabled.mechanisms={SASL_MECHANISM}",
            f"sasl.mechanism.inter.broker.protocol={SASL_MECHANISM}",
            f"listener.name.sasl_ssl.{SASL_MECHANISM.lower()}.sasl.jaas.config={jaas}",
            "listener.name.controller.ssl.client.auth=required",
            "ssl.keystore.type=PEM",
            f"ssl.keystore.location={keystore}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={self.security.tls.ca_cert}",
            "ssl.endpoint.identification.algorithm=https",
            "ssl.enabled.protocols=TLSv1.3,TLSv1.2",
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found=false",
            f"super.users=User:{ADMIN_PRINCIPAL};{BROKER_PRINCIPAL}",
        ]

    def _keystore(self, tls: TlsFiles) -> Path:
        """The broker's key and certificate in one PEM file, as Kafka's PEM keystore reads them."""
        keystore = self.data_dir / "broker-keystore.pem"
        _write_private(keystore, tls.broker_key.read_text() + tls.broker_cert.read_text())
        return keystore

    def _properties(self) -> Path:
        config = self.data_dir / "server.properties"
        _write_private(
            config,  # holds the admin password when secured
            "\n".join(
                [
                    "process.roles=broker,controller",
                    f"node.id={self.node_id}",
                    self._quorum_line(),
                    *self._listener_lines(),
                    f"log.dirs={self.data_dir / 'log'}",
                    f"num.partitions={PARTITIONS}",
                    "offsets.topic.num.partitions=6",
                    *self.replication.properties(),
                    "group.initial.rebalance.delay.ms=0",
                    # After a kill -9 the restarted broker cannot register until the controller
                    # has expired the dead one's session: 4 s instead of 9 s (heartbeats 1 s).
                    "broker.heartbeat.interval.ms=1000",
                    "broker.session.timeout.ms=4000",
                    "auto.create.topics.enable=false",
                    "",
                ]
            ),
        )
        return config

    def _quorum_line(self) -> str:
        if self.voters is None:
            return f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}"
        return f"controller.quorum.voters={self.voters}"

    def start(self, log: Logger) -> None:
        """Start the broker and create the topics (blocking; call it outside an event loop)."""
        self.launch(log)
        asyncio.run(create_topics(self.admin_connection()))

    def launch(self, log: Logger) -> None:
        """Start the broker and wait until it listens. Call it from the main thread: a child
        started from a worker thread is killed when that thread ends (PR_SET_PDEATHSIG)."""
        self.spawn(log)
        self.wait_listening()

    def spawn(self, log: Logger) -> None:
        """Start the node without waiting: a node of a quorum listens for clients only once a
        majority of the voters runs, so a cluster spawns them all before it waits for any."""
        for port in (self.port, self.controller_port):
            ensure_port_free(port, what="Kafka", hint="stop what holds it, or set KAFKA_BOOTSTRAP_SERVERS")
        self._prepare(log)
        self.child.start()

    def wait_listening(self, timeout: float = 90) -> None:
        wait_until(
            lambda: port_open(self.port),
            timeout=timeout,
            what=f"Kafka broker {self.name}",
            process=self.child.process,
            log_file=self.log_file,
        )

    def _answers(self) -> bool:
        # The port first: a refused connection makes aiokafka log an error on every probe.
        return port_open(self.port) and asyncio.run(broker_answers(self.admin_connection()))

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
            cluster_id = self.cluster_id or new_cluster_id()
            log(f"formatting KRaft storage in {self.data_dir / 'log'} (cluster {cluster_id})")
            # Secured: the admin's SCRAM credential is written with the metadata, so the broker's
            # own SASL login (inter-broker) and the first admin call work before any user exists.
            scram = (
                [
                    "--add-scram",
                    f"{SASL_MECHANISM}=[name={ADMIN_PRINCIPAL},password={self.security.admin_password}]",
                ]
                if self.security is not None
                else []
            )
            subprocess.run(
                [
                    *java,
                    "kafka.tools.StorageTool",
                    "format",
                    # Standalone: this node is its quorum. A static quorum's voters are in config.
                    *(["--standalone"] if self.voters is None else []),
                    f"--cluster-id={cluster_id}",  # an id may start with "-"
                    "-c",
                    str(config),
                    *scram,
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


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


async def create_topics(
    kafka: KafkaTarget,
    names: tuple[str, ...] = TOPICS,
    *,
    partitions: TopicPartitions | int = DEVELOPMENT,
    replication_factor: int = 1,
    timeout: float = 60,
) -> None:
    """Create `names` and their `.dlq` topics and wait until every partition has a leader.

    `partitions`: each topic's count (devstack.partitions; a number: the same for all). A topic
    that already exists with another count is refused (PartitionCountMismatch), never altered.
    `replication_factor`: the cluster's (devstack.kafka_cluster); their min.insync.replicas is the
    brokers' default, which the cluster sets to match.

    Retries while the broker warms up. Waiting for the leaders matters: a consumer that subscribes
    to a topic the broker created but has not yet put in its metadata fails with
    UnknownTopicOrPartitionError.
    """
    counts = partitions if isinstance(partitions, TopicPartitions) else TopicPartitions(default=partitions)
    wanted = [*names, *(f"{topic}.dlq" for topic in names)]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        admin = AIOKafkaAdminClient(**as_connection(kafka).client_kwargs(), request_timeout_ms=5000)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [name for name in wanted if name not in existing]
            if missing:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(
                        [
                            NewTopic(
                                name, num_partitions=counts.of(name), replication_factor=replication_factor
                            )
                            for name in missing
                        ]
                    )
            described = await admin.describe_topics(wanted)
            refuse_other_counts(described, counts)
            if _all_led(described, wanted):
                return
        except PartitionCountMismatch:
            raise  # not a broker warming up: retrying cannot help
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise
        finally:
            await admin.close()
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"topics without a leader after {timeout}s: {wanted}")
        await asyncio.sleep(0.1)


def refuse_other_counts(described: list[dict[str, Any]], counts: TopicPartitions) -> None:
    """Raise PartitionCountMismatch naming every described topic whose partition count is not
    the configured one (a topic whose partitions are not yet known is left for the next look)."""
    found = {
        topic["topic"]: (len(topic["partitions"]), counts.of(topic["topic"]))
        for topic in described
        if topic["partitions"] and len(topic["partitions"]) != counts.of(topic["topic"])
    }
    if found:
        raise PartitionCountMismatch(found)


def _all_led(described: list[dict[str, Any]], names: list[str]) -> bool:
    return len(described) == len(names) and all(
        topic["error_code"] == 0
        and topic["partitions"]
        and all(partition["leader"] >= 0 for partition in topic["partitions"])
        for topic in described
    )


async def broker_answers(kafka: KafkaTarget) -> bool:
    """Does the broker answer a metadata request (not just accept connections)?"""
    admin = AIOKafkaAdminClient(**as_connection(kafka).client_kwargs(), request_timeout_ms=2000)
    try:
        await admin.start()
        await admin.list_topics()
        return True
    except Exception:
        return False
    finally:
        await admin.close()


async def end_offsets(kafka: KafkaTarget, topics: list[str]) -> dict[TopicPartition, int]:
    """The next offset of every partition of `topics` (how many records each has had)."""
    admin = AIOKafkaAdminClient(**as_connection(kafka).client_kwargs())
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
    consumer = AIOKafkaConsumer(**as_connection(kafka).client_kwargs())
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (it may hold a password or a private key)."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
