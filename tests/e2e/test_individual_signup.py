"""Flow 1 (DESIGN.md 4.1), through the real services, broker and databases."""

from __future__ import annotations

import asyncpg

from devstack.platform import Platform
from devstack.services import Fleet
from devstack.testing import (
    complete_claims,
    count,
    eventually,
    fetch,
    new_user_id,
    post_auth_webhook,
    service_db,
    signup_delivery,
    wait_consumed,
)


async def test_signed_user_created_yields_personal_org_claims(services: Fleet, platform: Platform) -> None:
    user_id = new_user_id()
    body, headers = signup_delivery(user_id=user_id, first_name="Grace")

    response = await post_auth_webhook(services, body, headers)

    assert response.status_code == 200
    assert response.json()["status"] == "processed"
    claims = await complete_claims(services, user_id)
    assert claims["org_role"] == "trainee"
    assert claims["is_personal_org"] is True
    assert claims["plan"] == "individual_free"
    org = (
        await fetch(
            service_db(platform, "workspace"), "SELECT * FROM orgs WHERE personal_user_id = $1", user_id
        )
    )[0]
    assert str(org["id"]) == claims["org_id"]
    assert org["name"] == "Grace's Workspace"
    assert org["slug"] == f"personal-{user_id}"
    assert org["is_personal"] is True
    assert org["settings"] == '{"show_leaderboard": false, "show_team_features": false}'


async def test_duplicate_deliveries_and_redelivered_events_change_nothing(
    services: Fleet, platform: Platform
) -> None:
    user_id = new_user_id()
    body, headers = signup_delivery(user_id=user_id)
    statuses = [(await post_auth_webhook(services, body, headers)).json()["status"] for _ in range(5)]
    assert statuses == ["processed"] + ["duplicate"] * 4
    await complete_claims(services, user_id)

    # Publish the very same user.created event twice more by hand.
    event = await fetch(
        service_db(platform, "identity"),
        "SELECT topic, key, value, headers FROM outbox WHERE key = $1 AND event_type = 'user.created'",
        user_id,
    )
    assert len(event) == 1
    await publish_raw(platform.kafka_bootstrap, event[0], times=2)
    await wait_consumed(platform.kafka_bootstrap, group="workspace", topic="identity.users")
    await wait_consumed(platform.kafka_bootstrap, group="billing", topic="workspace.orgs")
    await wait_consumed(platform.kafka_bootstrap, group="identity", topic="billing.subscriptions")

    assert await count(platform, "identity", "SELECT count(*) FROM users WHERE id = $1", user_id) == 1
    orgs = await fetch(
        service_db(platform, "workspace"), "SELECT id FROM orgs WHERE personal_user_id = $1", user_id
    )
    assert len(orgs) == 1
    org_id = orgs[0]["id"]
    assert (
        await count(platform, "workspace", "SELECT count(*) FROM memberships WHERE user_id = $1", user_id)
        == 1
    )
    assert (
        await count(platform, "billing", "SELECT count(*) FROM subscriptions WHERE org_id = $1", str(org_id))
        == 1
    )
    assert (
        await count(platform, "identity", "SELECT count(*) FROM user_claims WHERE user_id = $1", user_id) == 1
    )
    # Nothing was announced twice either.
    assert await count(platform, "workspace", "SELECT count(*) FROM outbox WHERE key = $1", str(org_id)) == 2
    assert await count(platform, "billing", "SELECT count(*) FROM outbox WHERE key = $1", str(org_id)) == 1


async def test_one_trace_follows_the_signup_through_every_service(
    services: Fleet, platform: Platform
) -> None:
    user_id = new_user_id()
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    body, headers = signup_delivery(user_id=user_id)
    headers["traceparent"] = f"00-{trace_id}-00f067aa0ba902b7-01"
    assert (await post_auth_webhook(services, body, headers)).status_code == 200
    claims = await complete_claims(services, user_id)

    identity_event = await fetch(
        service_db(platform, "identity"), "SELECT headers FROM outbox WHERE key = $1", user_id
    )
    org_events = await fetch(
        service_db(platform, "workspace"), "SELECT headers FROM outbox WHERE key = $1", claims["org_id"]
    )
    billing_events = await fetch(
        service_db(platform, "billing"), "SELECT headers FROM outbox WHERE key = $1", claims["org_id"]
    )
    traceparents = [
        json_headers(row)["traceparent"] for row in [*identity_event, *org_events, *billing_events]
    ]
    assert len(traceparents) == 4
    assert {tp.split("-")[1] for tp in traceparents} == {trace_id}


async def test_a_signup_survives_a_crashed_consumer(services: Fleet, platform: Platform) -> None:
    """No lost signups: workspace is killed (SIGKILL), the signup arrives, workspace comes back."""
    with services["workspace"].down():
        user_id = new_user_id()
        body, headers = signup_delivery(user_id=user_id)
        assert (await post_auth_webhook(services, body, headers)).status_code == 200
        sent = await eventually(
            lambda: count(
                platform,
                "identity",
                "SELECT count(*) FROM outbox WHERE key = $1 AND sent_at IS NOT NULL",
                user_id,
            ),
            until=lambda sent: sent == 1,
            what="user.created published",
        )
        assert sent == 1
    claims_after = await complete_claims(services, user_id)
    assert claims_after["plan"] == "individual_free"
    assert (
        await count(platform, "workspace", "SELECT count(*) FROM orgs WHERE personal_user_id = $1", user_id)
        == 1
    )


def json_headers(row: asyncpg.Record) -> dict[str, str]:
    import json

    value = row["headers"]
    return json.loads(value) if isinstance(value, str) else dict(value)


async def publish_raw(bootstrap: str, row: asyncpg.Record, *, times: int) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        headers = [(name, value.encode()) for name, value in json_headers(row).items()]
        for _ in range(times):
            await producer.send_and_wait(
                row["topic"],
                value=bytes(row["value"]),
                key=row["key"].encode(),
                headers=headers,
            )
    finally:
        await producer.stop()
