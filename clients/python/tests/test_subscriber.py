"""The FastStream integration on FastStream's TestKafkaBroker: typed events, retries, dead letters."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from backbone_client.events import (
    BILLING_SUBSCRIPTIONS,
    WORKSPACE_ORGS,
    Event,
    MembershipAdded,
    OrgCreated,
    SubscriptionChanged,
)
from backbone_client.kafka import KafkaSettings
from backbone_client.subscriber import (
    DependencyUnavailable,
    PermanentError,
    RetryPolicy,
    platform_broker,
    platform_subscription,
)
from backbone_client.testing import new_event, publish_event, record_value

RETRY = RetryPolicy(max_attempts=4, initial_seconds=0.001, max_seconds=0.01)


@dataclass
class Harness:
    """A broker with one billing.subscriptions handler that fails while `failures` lasts."""

    broker: KafkaBroker
    applied: list[Event[SubscriptionChanged]] = field(default_factory=list)
    calls: int = 0
    failures: list[Exception] = field(default_factory=list)
    dead: list[tuple[dict[str, Any], bytes]] = field(default_factory=list)


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    broker = platform_broker(KafkaSettings(), consumer="kit-test", retry=RETRY)
    state = Harness(broker)

    @broker.subscriber(BILLING_SUBSCRIPTIONS, **platform_subscription("kit-test"))
    async def on_change(event: Event[SubscriptionChanged]) -> None:
        state.calls += 1
        if state.failures:
            raise state.failures.pop(0)
        state.applied.append(event)

    @broker.subscriber(f"{BILLING_SUBSCRIPTIONS}.dlq", group_id="kit-test-dlq")
    async def on_dead_letter(message: KafkaMessage) -> None:
        state.dead.append((dict(message.headers), message.body))

    async with TestKafkaBroker(broker):
        yield state


async def test_a_handler_receives_the_typed_event(harness: Harness, plan_change: Any) -> None:
    event = plan_change(plan="individual_pro", version=2)
    await publish_event(harness.broker, event)
    [applied] = harness.applied
    assert (applied.id, applied.data.plan, applied.data.version) == (event.id, "individual_pro", 2)
    assert harness.dead == []


async def test_a_record_written_without_headers_is_typed_from_its_value(
    harness: Harness, plan_change: Any
) -> None:
    await publish_event(harness.broker, plan_change(), headers=False)
    assert [type(event.data) for event in harness.applied] == [SubscriptionChanged]


async def test_a_handler_that_fails_twice_is_retried_and_applies_once(
    harness: Harness, plan_change: Any
) -> None:
    harness.failures = [ConnectionError("database restarting"), RuntimeError("deadlock detected")]
    await publish_event(harness.broker, plan_change())
    assert (harness.calls, len(harness.applied), harness.dead) == (3, 1, [])


async def test_a_dependency_still_down_after_the_retries_rewinds_the_record_not_dead_letters_it(
    harness: Harness, plan_change: Any
) -> None:
    harness.failures = [ConnectionRefusedError("database down")] * RETRY.max_attempts
    with pytest.raises(DependencyUnavailable):
        await publish_event(harness.broker, plan_change())
    assert (harness.calls, harness.applied, harness.dead) == (RETRY.max_attempts, [], [])


def test_unavailable_is_found_in_the_cause_chain() -> None:
    class DriverError(Exception):
        connection_invalidated = True

    try:
        try:
            raise ConnectionResetError("peer went away")
        except ConnectionResetError as lost:
            raise RuntimeError("query failed") from lost
    except RuntimeError as wrapped:
        chained = wrapped
    assert RETRY.means_unavailable(chained) and RETRY.means_unavailable(DriverError())
    assert not RETRY.means_unavailable(RuntimeError("bad data")) and not RETRY.means_unavailable(None)


async def test_a_failing_handler_is_dead_lettered_with_why_after_its_retries(
    harness: Harness, plan_change: Any
) -> None:
    harness.failures = [RuntimeError("database said no")] * RETRY.max_attempts
    event = plan_change()
    await publish_event(harness.broker, event)
    assert (harness.calls, harness.applied) == (RETRY.max_attempts, [])
    [(headers, body)] = harness.dead
    assert body == record_value(event)
    assert headers["dlq-attempts"] == str(RETRY.max_attempts)
    assert "database said no" in headers["dlq-error"]
    assert (headers["dlq-consumer"], headers["dlq-original-topic"]) == ("kit-test", BILLING_SUBSCRIPTIONS)
    assert (headers["ce_id"], headers["ce_type"]) == (str(event.id), "subscription.changed")


async def test_a_permanent_error_is_dead_lettered_at_once(harness: Harness, plan_change: Any) -> None:
    harness.failures = [PermanentError("this org is not ours")]
    await publish_event(harness.broker, plan_change())
    assert harness.calls == 1
    [(headers, _)] = harness.dead
    assert headers["dlq-attempts"] == "1" and "not ours" in headers["dlq-error"]


async def test_a_malformed_record_is_dead_lettered_without_reaching_the_handler(harness: Harness) -> None:
    await harness.broker.publish(b"{not json", topic=BILLING_SUBSCRIPTIONS, key=b"org-1")
    assert harness.calls == 0
    [(headers, body)] = harness.dead
    assert body == b"{not json" and "malformed event" in headers["dlq-error"]


async def test_an_unknown_event_type_is_skipped_not_dead_lettered(
    harness: Harness, raw_envelope: Any
) -> None:
    value = raw_envelope("subscription.renamed", subject="org-1", data={"org_id": "org-1"})
    await harness.broker.publish(value, topic=BILLING_SUBSCRIPTIONS, key=b"org-1")
    assert (harness.calls, harness.dead) == (0, [])


async def test_a_handler_annotated_for_another_type_dead_letters_what_it_cannot_take() -> None:
    broker = platform_broker(KafkaSettings(), consumer="kit-test", retry=RETRY)
    seen: list[str] = []
    dead: list[str] = []

    @broker.subscriber(WORKSPACE_ORGS, **platform_subscription("kit-test-orgs"))
    async def on_org(event: Event[OrgCreated]) -> None:
        seen.append(event.data.org_id)

    @broker.subscriber(f"{WORKSPACE_ORGS}.dlq", group_id="kit-test-orgs-dlq")
    async def on_dead(message: KafkaMessage) -> None:
        dead.append(message.headers["dlq-attempts"])

    org_id = str(uuid.uuid4())
    membership = MembershipAdded(org_id=org_id, user_id="u", role="admin", is_personal_org=True)
    async with TestKafkaBroker(broker) as test_broker:
        await publish_event(test_broker, new_event(membership, subject=org_id))
    assert (seen, dead) == ([], ["1"])


def test_a_platform_subscription_never_auto_commits() -> None:
    """Commit after the effect: the consumer FastStream builds has auto-commit off (the offset is
    committed by the ack after the handler), and a new group starts at the earliest record."""
    broker = platform_broker(KafkaSettings(), consumer="kit-test")
    subscriber = broker.subscriber(BILLING_SUBSCRIPTIONS, **platform_subscription("kit-test-commit"))
    arguments = subscriber._connection_args  # what FastStream passes to AIOKafkaConsumer
    assert (arguments["enable_auto_commit"], arguments["auto_offset_reset"]) == (False, "earliest")
