"""The platform's Kafka: one KRaft node (the default), or N combined broker+controller nodes.

`DEVSTACK_KAFKA_BROKERS=3` gives three nodes on loopback, a static quorum of voters 1..3, each
with its own ports and log dir, all formatted with one cluster id (docs/kafka-cluster.md). Node
1 keeps the single node's ports (9092, controller 9093); node i takes both moved by 2·(i-1):
9094/9095 and 9096/9097. Topics, the offsets topic and the transaction state log get
`Replication.for_brokers(N)` (three copies and min.insync.replicas=2 from three brokers on).

With one broker nothing differs from the lone KafkaServer the platform always ran: the same
data folder, the same ports, the child named `kafka`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from devstack.child import Child, stop_together
from devstack.kafka import KafkaSecurity, KafkaServer, Replication, create_topics, new_cluster_id
from devstack.partitions import DEVELOPMENT, TopicPartitions
from devstack.system import Logger
from shared.messaging.kafka_connection import KafkaConnection

BROKERS_VARIABLE = "DEVSTACK_KAFKA_BROKERS"
MAX_BROKERS = 5  # 2 cores here: more JVMs than this only measure the machine
PORT_STRIDE = 2  # node i's client and controller ports: node 1's moved by 2·(i-1)
# Three JVMs on a small machine: a smaller heap each than the lone broker's 512m.
CLUSTER_NODE_HEAP = "384m"


def broker_count(environ: Mapping[str, str] = os.environ) -> int:
    """`DEVSTACK_KAFKA_BROKERS` (1 when unset); anything but 1..MAX_BROKERS is refused."""
    value = environ.get(BROKERS_VARIABLE) or "1"
    if not value.isdigit() or not 1 <= int(value) <= MAX_BROKERS:
        raise ValueError(f"{BROKERS_VARIABLE}={value!r}: expected a number of brokers, 1 to {MAX_BROKERS}")
    return int(value)


def node_ports(port: int, controller_port: int, node_id: int) -> tuple[int, int]:
    """Node `node_id`'s client and controller ports, given node 1's."""
    shift = PORT_STRIDE * (node_id - 1)
    return port + shift, controller_port + shift


def bootstrap_of(port: int, brokers: int) -> str:
    """The bootstrap list of a cluster whose node 1 listens on `port` (before it is started)."""
    return ",".join(f"127.0.0.1:{port + PORT_STRIDE * (node_id - 1)}" for node_id in range(1, brokers + 1))


@dataclass
class KafkaCluster:
    """`brokers` KRaft nodes: node 1 on `port` / `controller_port`, data under `data_root`."""

    port: int
    controller_port: int
    data_root: Path
    brokers: int = 1
    security: KafkaSecurity | None = None
    partitions: TopicPartitions = DEVELOPMENT  # each topic's count (devstack.partitions)
    replication: Replication = field(init=False)
    nodes: list[KafkaServer] = field(init=False)

    def __post_init__(self) -> None:
        self.replication = Replication.for_brokers(self.brokers)
        if self.brokers == 1:
            self.nodes = [
                KafkaServer(
                    port=self.port,
                    controller_port=self.controller_port,
                    data_dir=self.data_root / "node",
                    security=self.security,
                )
            ]
            return
        # Apart from the lone node's folder: a storage formatted standalone never joins a quorum.
        folders = [self.data_root / f"cluster-{self.brokers}" / f"node-{i}" for i in self.node_ids]
        cluster_id = _formatted_cluster_id(folders) or new_cluster_id()
        voters = ",".join(
            f"{i}@127.0.0.1:{node_ports(self.port, self.controller_port, i)[1]}" for i in self.node_ids
        )
        self.nodes = []
        for node_id, folder in zip(self.node_ids, folders, strict=True):
            port, controller_port = node_ports(self.port, self.controller_port, node_id)
            self.nodes.append(
                KafkaServer(
                    port=port,
                    controller_port=controller_port,
                    data_dir=folder,
                    heap=CLUSTER_NODE_HEAP,
                    security=self.security,
                    name=f"kafka-{node_id}",
                    node_id=node_id,
                    voters=voters,
                    cluster_id=cluster_id,
                    replication=self.replication,
                )
            )

    @property
    def node_ids(self) -> range:
        return range(1, self.brokers + 1)

    @property
    def bootstrap(self) -> str:
        """Every node's address, as a client's bootstrap list (KAFKA_BOOTSTRAP_SERVERS)."""
        return ",".join(node.bootstrap for node in self.nodes)

    @property
    def children(self) -> list[Child]:
        return [node.child for node in self.nodes]

    def node(self, node_id: int) -> KafkaServer:
        return self.nodes[node_id - 1]

    def admin_connection(self) -> KafkaConnection:
        """How the super user `admin` reaches the cluster (any node; plaintext when unsecured)."""
        return dataclasses.replace(self.nodes[0].admin_connection(), bootstrap_servers=self.bootstrap)

    def start(self, log: Logger) -> None:
        """Start every node, wait for the quorum and every broker, then create the topics with
        the cluster's replication (blocking; call it from the main thread, outside a loop)."""
        for node in self.nodes:
            node.spawn(log)
        for node in self.nodes:
            node.wait_listening()
        if self.brokers > 1:
            asyncio.run(wait_for_brokers(self.admin_connection(), self.brokers))
        asyncio.run(
            create_topics(
                self.admin_connection(),
                partitions=self.partitions,
                replication_factor=self.replication.factor,
            )
        )

    def stop(self) -> None:
        """Stop the nodes together: one by one, each would wait for partitions to move away."""
        if self.brokers == 1:
            self.nodes[0].stop()
        else:
            stop_together(self.children)


async def wait_for_brokers(connection: KafkaConnection, brokers: int, *, timeout: float = 90) -> None:
    """Until the quorum has a leader and all `brokers` are registered (topics with three
    replicas cannot be created while a broker is still missing)."""
    deadline = time.monotonic() + timeout
    seen: dict[str, Any] = {}
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(**connection.client_kwargs(), request_timeout_ms=3000)
        try:
            await admin.start()
            seen = await admin.describe_cluster()
            if seen.get("controller_id", -1) != -1 and len(seen.get("brokers", [])) >= brokers:
                return
        except Exception:  # a node still starting: ask again
            pass
        finally:
            await admin.close()
        await asyncio.sleep(0.2)
    raise TimeoutError(f"Kafka: {brokers} brokers not registered after {timeout:.0f}s (last seen: {seen})")


def _formatted_cluster_id(folders: list[Path]) -> str | None:
    """The cluster id a node was formatted with (nodes formatted later must share it)."""
    for folder in folders:
        meta = folder / "log" / "meta.properties"
        if meta.exists():
            found = re.search(r"^cluster\.id=(.+)$", meta.read_text(), re.MULTILINE)
            if found:
                return found.group(1).strip()
    return None
