"""Three KRaft nodes, for real (issue 18 item 1, docs/kafka-cluster.md): every topic kept three
times with min.insync.replicas=2, and a partition leader killed with -9 loses no acknowledged
record and refuses no write.

The cluster runs on ports of its own, node 1 on the test Kafka's + 10 (nodes on +10..+15, moved
by DEVSTACK_TEST_PORT_OFFSET), data in .local/kafka-cluster-test; no supervisor, so a killed node
stays down until the test starts it again.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

from devstack.groups import coordinator_ready
from devstack.kafka import TOPICS, Replication
from devstack.kafka_acls import confluent_config
from devstack.kafka_cluster import KafkaCluster, bootstrap_of, broker_count
from devstack.paths import local_dir
from devstack.pytest_plugin import TEST_PORTS
from devstack.testing import eventually
from shared.events.topics import IDENTITY_USERS, dlq_topic
from shared.messaging.kafka_connection import KafkaConnection
from shared.outbox.relay import idempotent_producer

ROOT = local_dir() / "kafka-cluster-test"
NODE_1_PORT = TEST_PORTS.kafka + 10
NODE_1_CONTROLLER_PORT = TEST_PORTS.kafka + 11
ALL_TOPICS = [*TOPICS, *(dlq_topic(topic) for topic in TOPICS)]


# --- without brokers: the settings each size of cluster gets --------------------------------


def test_replication_follows_the_number_of_brokers() -> None:
    assert Replication.for_brokers(1) == Replication(factor=1, min_insync=1)
    assert Replication.for_brokers(2) == Replication(factor=2, min_insync=1)
    assert Replication.for_brokers(3) == Replication(factor=3, min_insync=2)
    assert Replication.for_brokers(5) == Replication(factor=3, min_insync=2)
    with pytest.raises(ValueError):
        Replication.for_brokers(0)


def test_broker_count_is_one_unless_told_and_refuses_nonsense() -> None:
    assert broker_count({}) == 1
    assert broker_count({"DEVSTACK_KAFKA_BROKERS": "3"}) == 3
    for refused in ("0", "three", "-1", "6"):
        with pytest.raises(ValueError, match="DEVSTACK_KAFKA_BROKERS"):
            broker_count({"DEVSTACK_KAFKA_BROKERS": refused})


def test_one_broker_is_the_lone_node_the_platform_always_ran(tmp_path: Path) -> None:
    lone = KafkaCluster(port=9092, controller_port=9093, data_root=tmp_path / "kafka")
    [node] = lone.nodes
    assert (node.name, node.port, node.controller_port, node.voters) == ("kafka", 9092, 9093, None)
    assert node.data_dir == tmp_path / "kafka" / "node"
    assert lone.bootstrap == "127.0.0.1:9092" == bootstrap_of(9092, 1)


def test_three_brokers_have_their_own_ports_folders_and_one_quorum(tmp_path: Path) -> None:
    cluster = KafkaCluster(port=9092, controller_port=9093, data_root=tmp_path / "kafka", brokers=3)
    assert [(n.name, n.port, n.controller_port) for n in cluster.nodes] == [
        ("kafka-1", 9092, 9093),
        ("kafka-2", 9094, 9095),
        ("kafka-3", 9096, 9097),
    ]
    assert {n.voters for n in cluster.nodes} == {"1@127.0.0.1:9093,2@127.0.0.1:9095,3@127.0.0.1:9097"}
    assert len({n.cluster_id for n in cluster.nodes}) == 1
    assert len({n.data_dir for n in cluster.nodes}) == 3
    assert cluster.bootstrap == "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096" == bootstrap_of(9092, 3)


# --- a real three-node cluster ---------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[KafkaCluster]:
    shutil.rmtree(ROOT, ignore_errors=True)
    started = KafkaCluster(
        port=NODE_1_PORT, controller_port=NODE_1_CONTROLLER_PORT, data_root=ROOT, brokers=3
    )
    try:
        started.start(lambda message: print(f"[kafka cluster] {message}", flush=True))
        # The offsets topic is made on the first group lookup, and only while all three brokers
        # run (three replicas): make it now, before a test kills one.
        asyncio.run(
            eventually(
                lambda: coordinator_ready(started.admin_connection(), "kafka-cluster-test"),
                until=bool,
                what="group coordinator",
            )
        )
        yield started
    finally:
        started.stop()


async def _partitions(connection: KafkaConnection, topics: list[str]) -> dict[str, list[dict[str, Any]]]:
    admin = AIOKafkaAdminClient(**connection.client_kwargs())
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return {topic["topic"]: topic["partitions"] for topic in described}


def _configs(connection: KafkaConnection, resource: ConfigResource) -> dict[str, str]:
    admin = AdminClient(confluent_config(connection))
    [future] = admin.describe_configs([resource]).values()
    return {name: entry.value for name, entry in future.result(timeout=30).items()}


async def test_every_topic_has_three_replicas_and_needs_two_in_sync(cluster: KafkaCluster) -> None:
    connection = cluster.admin_connection()
    # The node that answers may not have the offsets topic (made on the first group lookup) in
    # its metadata yet: ask until every topic is described with its partitions.
    described = await eventually(
        lambda: _partitions(connection, [*ALL_TOPICS, "__consumer_offsets"]),
        until=lambda found: all(found.get(topic) for topic in [*ALL_TOPICS, "__consumer_offsets"]),
        what="every topic's partitions in the metadata",
    )
    for topic, partitions in described.items():
        assert partitions, topic
        assert all(len(p["replicas"]) == 3 and len(p["isr"]) == 3 for p in partitions), (topic, partitions)
    for topic in ALL_TOPICS:
        assert _configs(connection, ConfigResource(ResourceType.TOPIC, topic))["min.insync.replicas"] == "2"
    for node_id in cluster.node_ids:
        broker = _configs(connection, ConfigResource(ResourceType.BROKER, str(node_id)))
        assert broker["offsets.topic.replication.factor"] == "3"
        assert broker["transaction.state.log.replication.factor"] == "3"
        assert broker["transaction.state.log.min.isr"] == "2"
        assert broker["default.replication.factor"] == "3"


async def test_a_killed_leader_loses_no_record_and_refuses_no_write(cluster: KafkaCluster) -> None:
    connection = cluster.admin_connection()
    partition = TopicPartition(IDENTITY_USERS, 0)
    described = (await _partitions(connection, [IDENTITY_USERS]))[IDENTITY_USERS]
    [led] = [p for p in described if p["partition"] == 0]
    leader = cluster.node(led["leader"])
    sent: list[bytes] = []
    producer = idempotent_producer(connection, client_id="kafka-cluster-test")  # acks=all
    await producer.start()
    try:
        for n in range(20):
            sent.append(f"before-{n}".encode())
            await producer.send_and_wait(IDENTITY_USERS, value=sent[-1], key=b"k", partition=0)
        leader.child.kill()  # SIGKILL: no clean shutdown, no leadership handed over
        # The same producer, mid-flight: its next writes find the new leader (two replicas
        # left, still min.insync.replicas) and are acknowledged by both.
        for n in range(20):
            sent.append(f"after-{n}".encode())
            await asyncio.wait_for(
                producer.send_and_wait(IDENTITY_USERS, value=sent[-1], key=b"k", partition=0), timeout=60
            )
    finally:
        await producer.stop()
    after = (await _partitions(connection, [IDENTITY_USERS]))[IDENTITY_USERS]
    assert all(p["leader"] != leader.node_id for p in after), after

    assert await _read_all(connection, partition, expected=len(sent)) == sent

    # Back again, the node catches up and rejoins every in-sync set.
    leader.child.start()
    leader.wait_listening()
    await eventually(
        lambda: _partitions(connection, [IDENTITY_USERS]),
        until=lambda found: all(len(p["isr"]) == 3 for p in found[IDENTITY_USERS]),
        timeout=60,
        interval=0.5,
        what=f"node {leader.node_id} back in sync",
    )


async def _read_all(connection: KafkaConnection, partition: TopicPartition, *, expected: int) -> list[bytes]:
    """Every record of `partition` from its start (no group: nothing to commit)."""
    consumer = AIOKafkaConsumer(**connection.client_kwargs(), enable_auto_commit=False)
    await consumer.start()
    read: list[bytes] = []
    try:
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        deadline = asyncio.get_running_loop().time() + 30
        while len(read) < expected and asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(partition, timeout_ms=500)
            read += [record.value for record in batches.get(partition, []) if record.value is not None]
    finally:
        await consumer.stop()
    return read
