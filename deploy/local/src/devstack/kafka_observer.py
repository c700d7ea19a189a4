"""What a replicated cluster is doing, as an operator's tools would see it: who is the active
controller, who leads which partition, which partitions are short of replicas, and how often
leadership moved. Used by the broker-chaos run (devstack.broker_chaos) to aim its kills and to
report what they caused.

The active controller comes from the KRaft quorum's own state file (`quorum-state` in each node's
metadata log folder: the leader and its epoch), read from disk, as aiokafka has no DescribeQuorum.
The node with the highest epoch knows the newest leader; an epoch step is one controller election.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient

from devstack.kafka_cluster import KafkaCluster
from shared.messaging.kafka_connection import KafkaConnection


@dataclass(frozen=True)
class QuorumLeader:
    node_id: int  # -1 while an election is under way
    epoch: int


def quorum_leader(cluster: KafkaCluster) -> QuorumLeader:
    """The KRaft controller leader the nodes last recorded (highest epoch wins)."""
    best = QuorumLeader(-1, -1)
    for node in cluster.nodes:
        state = node.data_dir / "log" / "__cluster_metadata-0" / "quorum-state"
        with contextlib.suppress(OSError, ValueError):
            found = json.loads(state.read_text())
            seen = QuorumLeader(int(found.get("leaderId", -1)), int(found.get("leaderEpoch", -1)))
            if seen.epoch > best.epoch:
                best = seen
    return best


@dataclass(frozen=True)
class PartitionState:
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


Layout = dict[tuple[str, int], PartitionState]


async def partition_layout(connection: KafkaConnection, topics: list[str]) -> Layout:
    """Each partition of `topics`: its leader, replicas and in-sync replicas (one metadata call)."""
    admin = AIOKafkaAdminClient(**connection.client_kwargs(), request_timeout_ms=5000)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return {
        (topic["topic"], partition["partition"]): PartitionState(
            partition["leader"], tuple(partition["replicas"]), tuple(partition["isr"])
        )
        for topic in described
        for partition in topic["partitions"]
    }


def under_replicated(layout: Layout) -> list[tuple[str, int]]:
    """Partitions with a replica out of sync or no leader."""
    return [tp for tp, state in layout.items() if state.leader < 0 or len(state.isr) < len(state.replicas)]


def busiest_leader(layout: Layout, records: dict[str, int]) -> int:
    """The broker leading the most records' worth of partitions (`records`: per topic, the number
    written so far, spread evenly over its partitions) — where a kill moves the most traffic."""
    load: dict[int, float] = {}
    partitions_of = Counter(topic for topic, _ in layout)
    for (topic, _), state in layout.items():
        if state.leader >= 0:
            load[state.leader] = load.get(state.leader, 0.0) + records.get(topic, 0) / partitions_of[topic]
    if not load:
        raise LookupError("no partition has a leader")
    return max(load, key=lambda broker: load[broker])


@dataclass
class LeaderWatch:
    """Samples the partition leaders every `interval` seconds and counts every change it sees.

    A change between two samples counts once even if leadership moved twice meanwhile, so the
    count is a lower bound; it also records the longest time any partition had no leader.
    """

    connection: KafkaConnection
    topics: list[str]
    interval: float = 0.5
    changes: int = 0
    leaderless_seconds: float = 0.0
    _last: dict[tuple[str, int], int] = field(default_factory=dict)
    _leaderless_since: dict[tuple[str, int], float] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="leader-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(Exception):  # a broker down mid-sample: the next one counts
                self.observe(await partition_layout(self.connection, self.topics), time.monotonic())
            await asyncio.sleep(self.interval)

    def observe(self, layout: Layout, now: float) -> None:
        for tp, state in layout.items():
            if state.leader < 0:
                self._leaderless_since.setdefault(tp, now)
                continue
            if (since := self._leaderless_since.pop(tp, None)) is not None:
                self.leaderless_seconds = max(self.leaderless_seconds, now - since)
            previous = self._last.get(tp)
            if previous is not None and previous != state.leader:
                self.changes += 1
            self._last[tp] = state.leader
