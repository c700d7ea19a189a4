"""user.updated / user.deleted deliveries: newer wins, stale is ignored, deleted stays deleted."""

from __future__ import annotations

import asyncio

from devstack.platform import Platform
from devstack.pytest_plugin import TEST_AUTH_SECRET
from devstack.services import Fleet
from devstack.testing import count, fetch, new_user_id, post_auth_webhook, service_db, signup_delivery
from devstack.webhooks import signed_delivery


async def deliver(
    fleet: Fleet, *, user_id: str, event_type: str, first_name: str = "Ada", updated_at_ms: int = 1_000
) -> str:
    body, headers = signup_delivery(
        user_id=user_id, event_type=event_type, first_name=first_name, updated_at_ms=updated_at_ms
    )
    response = await post_auth_webhook(fleet, body, headers)
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


async def events_for(platform: Platform, user_id: str) -> list[str]:
    rows = await fetch(
        service_db(platform, "identity"),
        "SELECT event_type FROM outbox WHERE key = $1 ORDER BY position",
        user_id,
    )
    return [row["event_type"] for row in rows]


async def first_name(platform: Platform, user_id: str) -> str:
    rows = await fetch(
        service_db(platform, "identity"), "SELECT first_name FROM users WHERE id = $1", user_id
    )
    return str(rows[0]["first_name"])


async def test_a_newer_update_applies_and_a_stale_one_is_ignored(services: Fleet, platform: Platform) -> None:
    user_id = new_user_id()
    await deliver(services, user_id=user_id, event_type="user.created", updated_at_ms=1_000)
    await deliver(
        services, user_id=user_id, event_type="user.updated", first_name="Grace", updated_at_ms=3_000
    )
    await deliver(
        services, user_id=user_id, event_type="user.updated", first_name="Stale", updated_at_ms=2_000
    )

    assert await first_name(platform, user_id) == "Grace"
    assert await events_for(platform, user_id) == ["user.created", "user.updated"]


async def test_an_update_that_overtakes_its_creation_creates_the_user_once(
    services: Fleet, platform: Platform
) -> None:
    user_id = new_user_id()
    await deliver(
        services, user_id=user_id, event_type="user.updated", first_name="Early", updated_at_ms=5_000
    )
    await deliver(services, user_id=user_id, event_type="user.created", updated_at_ms=1_000)

    assert await first_name(platform, user_id) == "Early"
    assert await events_for(platform, user_id) == ["user.created"]


async def test_a_deleted_user_is_not_revived_by_a_late_delivery(services: Fleet, platform: Platform) -> None:
    user_id = new_user_id()
    await deliver(services, user_id=user_id, event_type="user.created")
    body, headers = signed_delivery(
        {"type": "user.deleted", "data": {"id": user_id, "deleted": True}}, secret=TEST_AUTH_SECRET
    )
    assert (await post_auth_webhook(services, body, headers)).status_code == 200
    await deliver(services, user_id=user_id, event_type="user.updated", updated_at_ms=9_000)

    assert await events_for(platform, user_id) == ["user.created", "user.deleted"]
    assert (
        await count(
            platform,
            "identity",
            "SELECT count(*) FROM users WHERE id = $1 AND deleted_at IS NOT NULL",
            user_id,
        )
        == 1
    )


async def test_the_same_delivery_posted_concurrently_is_processed_once(
    services: Fleet, platform: Platform
) -> None:
    user_id = new_user_id()
    body, headers = signup_delivery(user_id=user_id)

    responses = await asyncio.gather(*(post_auth_webhook(services, body, headers) for _ in range(10)))

    statuses = sorted(response.json()["status"] for response in responses)
    assert statuses == ["duplicate"] * 9 + ["processed"]
    assert await events_for(platform, user_id) == ["user.created"]
