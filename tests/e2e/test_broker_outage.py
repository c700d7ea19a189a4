"""No lost signups: the broker goes down, a signup is accepted anyway and completes when it returns."""

from __future__ import annotations

import asyncio

from devstack.kafka import create_topics
from devstack.platform import Platform
from devstack.scrape import parse, scrape_text, value
from devstack.services import Fleet
from devstack.testing import (
    complete_claims,
    count,
    eventually,
    new_user_id,
    post_auth_webhook,
    signup_delivery,
)


async def identity_backlog(fleet: Fleet) -> float:
    """identity's unsent outbox rows as its first replica's gauge says (each replica measures
    the same database, so one is enough)."""
    samples = parse(await scrape_text(fleet.replicas["identity"][0].own_url))
    return value(samples, "backbone_outbox_backlog_rows", service="identity")


async def test_a_signup_accepted_while_kafka_is_down_completes_after_it_restarts(
    services: Fleet, platform: Platform
) -> None:
    assert platform.kafka is not None, "this test restarts the broker the test session started"
    user_id = new_user_id()
    kafka = platform.kafka.node(1)  # the test platform's one broker
    await asyncio.to_thread(kafka.stop)
    try:
        body, headers = signup_delivery(user_id=user_id)
        response = await post_auth_webhook(services, body, headers)
        assert response.status_code == 200  # accepted into the outbox, Kafka or not
        assert (
            await count(
                platform,
                "identity",
                "SELECT count(*) FROM outbox WHERE key = $1 AND sent_at IS NULL",
                user_id,
            )
            == 1
        )
        # The relay is stuck, and the gauges an operator watches say so (not their last value).
        await eventually(
            lambda: identity_backlog(services),
            until=lambda rows: rows >= 1,
            timeout=30,
            interval=0.5,
            what="identity's outbox backlog gauge counting the waiting signup",
        )
    finally:
        # From this (main) thread: a broker started in a worker thread dies with that thread.
        kafka.launch(platform.log)
        await create_topics(kafka.bootstrap)

    claims = await complete_claims(services, user_id, timeout=90)

    assert claims["plan"] == "individual_free"
    assert (
        await count(platform, "workspace", "SELECT count(*) FROM orgs WHERE personal_user_id = $1", user_id)
        == 1
    )
