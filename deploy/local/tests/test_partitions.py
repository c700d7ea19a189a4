"""Partitions per topic are configuration, and a live topic's count is never changed (issue 18
item 2, docs/partitions.md): on the test session's broker, with topics of their own per test.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from devstack.kafka import TOPICS, create_topics
from devstack.partitions import (
    DEVELOPMENT_PARTITIONS,
    GROWTH_DOCS,
    PRODUCTION_PARTITIONS,
    PartitionCountMismatch,
    TopicPartitions,
    development_partitions,
    production_partitions,
    topic_variable,
)
from devstack.platform import Platform
from devstack.profiles import production_platform
from shared.events.topics import WORKSPACE_ORGS

# --- the configuration ------------------------------------------------------------------------


def test_three_in_development_twelve_in_production_unless_the_shell_says_otherwise() -> None:
    assert (DEVELOPMENT_PARTITIONS, PRODUCTION_PARTITIONS) == (3, 12)
    assert development_partitions({}).of(WORKSPACE_ORGS) == 3
    assert production_partitions({}).of(WORKSPACE_ORGS) == 12
    assert production_partitions({"KAFKA_TOPIC_PARTITIONS": "24"}).of("identity.users.dlq") == 24
    assert development_partitions({"KAFKA_TOPIC_PARTITIONS": "6"}).of(WORKSPACE_ORGS) == 6


def test_one_topic_can_have_its_own_count_and_its_dlq_follows_it_unless_set() -> None:
    assert topic_variable("workspace.orgs") == "KAFKA_TOPIC_PARTITIONS_WORKSPACE_ORGS"
    assert topic_variable("skool.subscriptions.dlq") == "KAFKA_TOPIC_PARTITIONS_SKOOL_SUBSCRIPTIONS_DLQ"
    counts = production_partitions(
        {"KAFKA_TOPIC_PARTITIONS_WORKSPACE_ORGS": "24", "KAFKA_TOPIC_PARTITIONS_IDENTITY_USERS_DLQ": "1"}
    )
    assert counts.of("workspace.orgs") == counts.of("workspace.orgs.dlq") == 24
    assert (counts.of("identity.users"), counts.of("identity.users.dlq")) == (12, 1)
    assert counts.of("billing.subscriptions") == 12


def test_a_count_that_is_not_a_positive_number_is_refused() -> None:
    for name in ("KAFKA_TOPIC_PARTITIONS", "KAFKA_TOPIC_PARTITIONS_WORKSPACE_ORGS"):
        for refused in ("0", "-3", "twelve", "1.5"):
            with pytest.raises(ValueError, match=name):
                production_partitions({name: refused})
    with pytest.raises(ValueError):
        TopicPartitions(default=0)


def test_the_production_profile_creates_twelve_and_development_three(tmp_path: Path) -> None:
    production = production_platform(root=tmp_path / "production", offset=0, log=lambda _: None)
    assert production.platform.topic_partitions == TopicPartitions(default=12)
    assert Platform(root=tmp_path / "development").topic_partitions == TopicPartitions(default=3)


# --- on a real broker -------------------------------------------------------------------------


def _unique(what: str) -> str:
    return f"test.partitions.{what}.{uuid.uuid4().hex[:10]}"


async def _counts(platform: Platform, topics: list[str]) -> dict[str, int]:
    admin = AIOKafkaAdminClient(**platform.kafka_connection().client_kwargs())
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return {topic["topic"]: len(topic["partitions"]) for topic in described}


async def test_topics_get_their_configured_counts_and_a_second_run_accepts_them(platform: Platform) -> None:
    name, other = _unique("counts"), _unique("override")
    counts = TopicPartitions(default=2, overrides={other: 5})
    await create_topics(platform.kafka_connection(), (name, other), partitions=counts)
    expected = {name: 2, f"{name}.dlq": 2, other: 5, f"{other}.dlq": 5}
    assert await _counts(platform, list(expected)) == expected
    # The same configuration again (every restart of the platform): nothing to refuse.
    await create_topics(platform.kafka_connection(), (name, other), partitions=counts)


async def test_more_partitions_than_a_live_topic_has_are_refused_and_nothing_is_altered(
    platform: Platform,
) -> None:
    name = _unique("grow")
    await create_topics(platform.kafka_connection(), (name,), partitions=3)

    with pytest.raises(PartitionCountMismatch) as refused:
        await create_topics(platform.kafka_connection(), (name,), partitions=12, timeout=10)

    message = str(refused.value)
    assert f"Kafka topic {name} has 3 partitions, the configuration says 12" in message
    assert f"Kafka topic {name}.dlq has 3 partitions" in message
    assert "break per-key order" in message and GROWTH_DOCS in message
    assert f"{topic_variable(name)}=3" in message
    assert refused.value.found == {name: (3, 12), f"{name}.dlq": (3, 12)}
    assert await _counts(platform, [name, f"{name}.dlq"]) == {name: 3, f"{name}.dlq": 3}


async def test_fewer_partitions_than_a_live_topic_has_are_refused_too(platform: Platform) -> None:
    """Kafka cannot shrink a topic: accepting it would leave a configuration that is not in force."""
    name = _unique("shrink")
    await create_topics(platform.kafka_connection(), (name,), partitions=4)

    with pytest.raises(PartitionCountMismatch, match="cannot take partitions away") as refused:
        await create_topics(
            platform.kafka_connection(), (name,), partitions=TopicPartitions(default=4, overrides={name: 2})
        )

    assert refused.value.found == {name: (4, 2), f"{name}.dlq": (4, 2)}  # the .dlq follows its topic
    assert await _counts(platform, [name, f"{name}.dlq"]) == {name: 4, f"{name}.dlq": 4}


def test_a_platform_on_an_external_kafka_refuses_its_topics_with_another_count(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The KAFKA_BOOTSTRAP_SERVERS path: the test broker's platform topics have 3 partitions; a
    platform configured for 12 stops before it starts a service, and the topics keep their 3."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", platform.kafka_bootstrap)
    monkeypatch.setenv("DATABASE_URL", platform.database_url)
    external = Platform(
        root=tmp_path, topic_partitions=production_partitions({}), use_stripe_mock=False, log=lambda _: None
    )
    try:
        with pytest.raises(PartitionCountMismatch, match=f"Kafka topic {WORKSPACE_ORGS} has 3 partitions"):
            external.start_infrastructure()
    finally:
        external.stop()
    assert external.smtp is None  # refused before anything else started
    every = [*TOPICS, *(f"{topic}.dlq" for topic in TOPICS)]
    assert set(asyncio.run(_counts(platform, every)).values()) == {3}


@pytest.mark.parametrize("profile", ["development", "production"])
def test_devstack_run_refuses_a_count_that_is_not_a_number_before_it_starts_anything(profile: str) -> None:
    environ = {
        **os.environ,
        "DEVSTACK_PROFILE": profile,
        "KAFKA_TOPIC_PARTITIONS": "twelve",
        "DEVSTACK_PORT_OFFSET": str(10050 + int(os.environ.get("DEVSTACK_TEST_PORT_OFFSET", "0"))),
    }
    done = subprocess.run(
        [str(Path(sys.executable).with_name("devstack")), "run"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "refused: KAFKA_TOPIC_PARTITIONS='twelve': expected a number of partitions" in done.stdout
