"""The client kit on a secured broker, for real: SASL_SSL (SCRAM-SHA-512, TLS from the platform's
CA) and ACLs, as the production profile runs Kafka. The kit reads the very variables a service is
given (`KafkaConnection.to_env`), subscribes as a principal that may read `billing.subscriptions`
with its own group and write `billing.subscriptions.dlq` (invites': this broker holds the
platform's ACLs only; the example's own principal is tested in examples/practice-app/tests), gets a
typed event and dead-letters a poison one.
Its own broker on ports of its own (the test Kafka's + 30 and + 31), data in .local."""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from backbone_client.events import BILLING_SUBSCRIPTIONS, Event, SubscriptionChanged
from backbone_client.kafka import KafkaSettings
from backbone_client.subscriber import RetryPolicy, platform_broker, platform_subscription
from devstack.groups import coordinator_ready
from devstack.kafka import KafkaSecurity, KafkaServer
from devstack.kafka_acls import OPERATOR_PRINCIPAL, apply_kafka_security
from devstack.kafka_tls import ensure_tls
from devstack.paths import local_dir
from devstack.pytest_plugin import TEST_PORTS
from devstack.testing import eventually
from shared.events.envelope import new_envelope
from shared.events.schemas.billing import PlanLimits
from shared.events.schemas.billing import SubscriptionChanged as PlatformSubscriptionChanged
from shared.messaging.kafka_connection import KafkaConnection
from shared.outbox.relay import idempotent_producer

ROOT = local_dir() / "client-secured-kafka-test"
PRINCIPAL = "invites"  # reads billing.subscriptions as group `invites`, writes its .dlq


@pytest.fixture(scope="module")
def secured() -> Iterator[tuple[KafkaServer, dict[str, str]]]:
    shutil.rmtree(ROOT, ignore_errors=True)
    security = KafkaSecurity(tls=ensure_tls(ROOT / "tls"), admin_password=secrets.token_urlsafe(24))
    server = KafkaServer(
        port=TEST_PORTS.kafka + 30,
        controller_port=TEST_PORTS.kafka + 31,
        data_dir=ROOT / "kafka",
        security=security,
    )
    passwords = {name: secrets.token_urlsafe(32) for name in ("billing", PRINCIPAL, OPERATOR_PRINCIPAL)}
    try:
        server.start(lambda message: print(f"[client secured kafka] {message}", flush=True))
        apply_kafka_security(server.admin_connection(), passwords)
        asyncio.run(
            eventually(
                lambda: coordinator_ready(server.admin_connection(), PRINCIPAL),
                until=bool,
                what="coordinator",
            )
        )
        yield server, passwords
    finally:
        server.stop()


def _as(server: KafkaServer, passwords: dict[str, str], principal: str) -> KafkaConnection:
    return server.admin_connection().as_principal(principal, passwords[principal])


async def _publish_as_billing(connection: KafkaConnection, *values: tuple[str, bytes]) -> None:
    producer = idempotent_producer(connection, client_id="client-secured-kafka-test")
    await producer.start()
    try:
        for key, value in values:
            await producer.send_and_wait(BILLING_SUBSCRIPTIONS, value=value, key=key.encode())
    finally:
        await producer.stop()


async def _dead_letters(connection: KafkaConnection) -> list[Any]:
    consumer = AIOKafkaConsumer(
        f"{BILLING_SUBSCRIPTIONS}.dlq", **connection.client_kwargs(), auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=2000)
    finally:
        await consumer.stop()
    return [record for records in batches.values() for record in records]


async def test_the_kit_subscribes_over_sasl_ssl_with_the_services_variables_and_dead_letters_there(
    secured: tuple[KafkaServer, dict[str, str]],
) -> None:
    server, passwords = secured
    environment = _as(server, passwords, PRINCIPAL).to_env(PRINCIPAL)
    settings = KafkaSettings.from_env(PRINCIPAL, environment)
    assert (settings.security_protocol, settings.username) == ("SASL_SSL", PRINCIPAL)
    broker = platform_broker(settings, consumer=PRINCIPAL, retry=RetryPolicy(max_attempts=2))
    received: list[Event[SubscriptionChanged]] = []

    @broker.subscriber(BILLING_SUBSCRIPTIONS, **platform_subscription(PRINCIPAL))
    async def on_change(event: Event[SubscriptionChanged]) -> None:
        received.append(event)

    change = PlatformSubscriptionChanged(
        org_id="org-secured",
        plan="individual_pro",
        plan_kind="personal",
        status="active",
        version=2,
        limits=PlanLimits(seats=1, sessions_per_month=100, scenarios=50, ai_generation=True),
        features={"voice_training": True},
    )
    envelope = new_envelope(source="billing", subject="org-secured", data=change)
    billing = _as(server, passwords, "billing")
    await broker.start()
    try:
        await _publish_as_billing(billing, ("org-secured", envelope.to_bytes()), ("poison", b"{not json"))
        await eventually(
            lambda: asyncio.sleep(0, result=list(received)), until=bool, timeout=60, what="the typed event"
        )
        dead = await eventually(
            lambda: _dead_letters(_as(server, passwords, OPERATOR_PRINCIPAL)),
            until=bool,
            timeout=30,
            what="the poison record's dead letter",
        )
    finally:
        await broker.stop()
    assert [(event.id, event.data.plan) for event in received] == [(envelope.id, "individual_pro")]
    [letter] = dead
    headers = {name: value.decode() for name, value in letter.headers}
    assert (letter.value, headers["dlq-consumer"]) == (b"{not json", PRINCIPAL)
