"""Scale out (DESIGN §3): a second replica of every service shares the work, with no duplicated effect.

The second replicas bind the same HTTP ports (SO_REUSEPORT) and join the same consumer groups.
That both replicas of a consuming service own partitions is read from the group's assignment
(members that were not there before the second replica started are its own); should the
assignor ever leave the second one without any, it is restarted and rejoins under a new member
id. That each replica did work is checked by the committed offsets of its own partitions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka import TopicPartition

from devstack.chaos import dead_letter_count
from devstack.groups import GroupState, committed_offsets, describe_group
from devstack.platform import Platform
from devstack.provisioning import not_exactly_once
from devstack.pytest_plugin import TEST_AUTH_SECRET
from devstack.scrape import parse, scrape_text, value
from devstack.services import Fleet, RunningService
from devstack.status import consumed_topics
from devstack.svix_sender import send_burst, signup_deliveries
from devstack.testing import eventually

SIGNUPS = 200
# Consumer group (= service) -> the topics a burst of signups goes through (checked for sharing).
CONSUMED = {
    "workspace": ("identity.users", "billing.subscriptions"),
    "billing": ("workspace.orgs",),
    "identity": ("workspace.orgs", "billing.subscriptions"),
    "invites": ("identity.users", "workspace.orgs", "billing.subscriptions"),
    # skool-ingest learns who has an account (no welcome email for them).
    "skool-ingest": ("identity.users",),
}
# Every topic each group reads (all their partitions must be assigned for the group to be stable).
READS = consumed_topics()
REJOIN_ATTEMPTS = 10


def owned_by(state: GroupState, members: Iterable[str], topic: str) -> set[TopicPartition]:
    chosen = set(members)
    return {tp for tp, member in state.owners_of(topic).items() if member in chosen}


async def stable_group(bootstrap: str, group: str, *, members: int | None = None) -> GroupState:
    """Wait until every partition the group reads is assigned (to `members` members, if given)."""

    def settled(state: GroupState) -> bool:
        assigned = sum(len(tps) for tps in state.owned.values())
        complete = members is None or len(state.owned) == members
        return state.state == "Stable" and complete and assigned == 3 * len(READS[group])

    return await eventually(
        lambda: describe_group(bootstrap, group),
        until=settled,
        timeout=60,
        interval=0.2,
        what=f"{group} stable",
    )


async def share_partitions(
    bootstrap: str, group: str, second: RunningService, first_members: set[str]
) -> tuple[GroupState, set[str]]:
    """Restart `second` until both replicas own partitions of every topic the group reads."""
    for attempt in range(1, REJOIN_ATTEMPTS + 1):
        state = await stable_group(bootstrap, group, members=2 * len(first_members))
        second_members = set(state.owned) - first_members
        shared = all(
            owned_by(state, first_members, topic) and owned_by(state, second_members, topic)
            for topic in CONSUMED[group]
        )
        if shared:
            print(f"{group}: partitions shared after {attempt} join(s) of {second.name}")
            return state, second_members
        await asyncio.to_thread(second.stop)
        second.start()  # from this (main) thread, which outlives the replica (PR_SET_PDEATHSIG)
        await asyncio.to_thread(second.wait_ready)
    raise AssertionError(f"{group}: {second.name} never got partitions in {REJOIN_ATTEMPTS} joins")


async def rebalances_of(services: Fleet, group: str) -> float:
    """`backbone_consumer_rebalances_total` of the group's first replica."""
    samples = parse(await scrape_text(services.replicas[group][0].own_url))
    return value(samples, "backbone_consumer_rebalances_total", consumer=group)


async def test_second_replicas_share_the_work_and_provision_each_signup_once(
    services: Fleet, platform: Platform
) -> None:
    bootstrap = platform.kafka_bootstrap
    first_members = {}
    for group in CONSUMED:
        first_members[group] = set((await stable_group(bootstrap, group)).owned)
    dead_letters_before = await dead_letter_count(bootstrap)
    rebalances_before = {group: await rebalances_of(services, group) for group in CONSUMED}
    extra = {name: services.add_replica(name) for name in list(services.replicas)}
    try:
        for replica in extra.values():
            await asyncio.to_thread(replica.wait_ready)
        owners = {}
        for group, members in first_members.items():
            state, second_members = await share_partitions(bootstrap, group, extra[group], members)
            owners[group] = (state, {"first": members, "second": second_members})
        offsets_before = {group: await committed_offsets(bootstrap, group) for group in CONSUMED}
        for group in CONSUMED:  # the first replica counted the rebalance the second one caused
            assert await rebalances_of(services, group) > rebalances_before[group], group

        result = await send_burst(
            services["identity"].url, signup_deliveries(SIGNUPS), secret=TEST_AUTH_SECRET
        )

        assert result.abandoned == [] and len(result.accepted) == SIGNUPS, result.summary()
        assert await not_exactly_once(platform.database_url, result.accepted) == {}
        assert await dead_letter_count(bootstrap) == dead_letters_before
        for group, (state, replicas) in owners.items():
            assert (await describe_group(bootstrap, group)).owned == state.owned, f"{group} rebalanced"
            after = await committed_offsets(bootstrap, group)
            for which, members in replicas.items():
                for topic in CONSUMED[group]:
                    mine = owned_by(state, members, topic)
                    moved = [tp for tp in mine if after.get(tp, 0) > offsets_before[group].get(tp, 0)]
                    assert moved, f"the {which} replica of {group} handled nothing of {topic} ({mine})"
    finally:
        for replica in extra.values():
            await asyncio.to_thread(services.remove_replica, replica)
