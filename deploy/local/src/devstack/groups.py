"""Consumer groups as the broker sees them: who is in a group, which partitions each member owns."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.errors import GroupCoordinatorNotAvailableError

from shared.messaging.kafka_connection import KafkaTarget, as_connection


@dataclass(frozen=True)
class GroupState:
    state: str  # "Stable", "PreparingRebalance", "CompletingRebalance", "Empty", "Dead"
    owned: dict[str, frozenset[TopicPartition]]  # member id -> its partitions

    def owners_of(self, topic: str) -> dict[TopicPartition, str]:
        return {tp: member for member, tps in self.owned.items() for tp in tps if tp.topic == topic}


async def describe_group(kafka: KafkaTarget, group: str) -> GroupState:
    admin = AIOKafkaAdminClient(**as_connection(kafka).client_kwargs())
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    (described,) = response.to_object()["groups"]
    owned = {}
    for member in described["members"]:
        raw = member["member_assignment"]
        partitions = ConsumerProtocolMemberAssignment.decode(raw).partitions() if raw else []
        owned[member["member_id"]] = frozenset(partitions)
    return GroupState(state=described["state"], owned=owned)


async def committed_offsets(kafka: KafkaTarget, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(**as_connection(kafka).client_kwargs())
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in offsets.items()}


async def coordinator_ready(kafka: KafkaTarget, group: str) -> bool:
    """Whether the broker answers for `group`'s coordinator yet (a fresh broker creates the
    offsets topic first): poll it with a deadline before a test relies on consumer groups."""
    try:
        await committed_offsets(kafka, group)
    except GroupCoordinatorNotAvailableError:
        return False
    return True
