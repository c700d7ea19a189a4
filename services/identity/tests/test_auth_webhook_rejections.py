"""Bad deliveries to POST /v1/webhooks/auth: a clear 4xx, nothing stored, nothing announced."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from devstack.platform import Platform
from devstack.pytest_plugin import TEST_AUTH_SECRET
from devstack.services import Fleet
from devstack.testing import count, new_user_id, post_auth_webhook, signup_delivery
from devstack.webhooks import signed_delivery


async def assert_nothing_written(platform: Platform, *, user_id: str, delivery_id: str) -> None:
    assert await count(platform, "identity", "SELECT count(*) FROM users WHERE id = $1", user_id) == 0
    assert (
        await count(
            platform, "identity", "SELECT count(*) FROM auth_deliveries WHERE svix_id = $1", delivery_id
        )
        == 0
    )
    assert await count(platform, "identity", "SELECT count(*) FROM outbox WHERE key = $1", user_id) == 0


async def test_bad_signature_is_401_and_stores_nothing(services: Fleet, platform: Platform) -> None:
    user_id = new_user_id()
    body, headers = signup_delivery(user_id=user_id, secret="whsec_" + "d3Jvbmctc2VjcmV0LWZvci10ZXN0cw==")

    response = await post_auth_webhook(services, body, headers)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"
    await assert_nothing_written(platform, user_id=user_id, delivery_id=headers["svix-id"])


async def test_tampered_body_is_401(services: Fleet, platform: Platform) -> None:
    user_id = new_user_id()
    body, headers = signup_delivery(user_id=user_id)
    tampered = body.replace(b"Ada", b"Eve")

    response = await post_auth_webhook(services, tampered, headers)

    assert response.status_code == 401
    await assert_nothing_written(platform, user_id=user_id, delivery_id=headers["svix-id"])


@pytest.mark.parametrize("age", [timedelta(minutes=6), timedelta(minutes=-6)])
async def test_timestamp_outside_five_minutes_is_401(
    services: Fleet, platform: Platform, age: timedelta
) -> None:
    user_id = new_user_id()
    body, headers = signup_delivery(user_id=user_id, timestamp=datetime.now(UTC) - age)

    response = await post_auth_webhook(services, body, headers)

    assert response.status_code == 401
    assert "timestamp" in response.json()["error"]["message"]
    await assert_nothing_written(platform, user_id=user_id, delivery_id=headers["svix-id"])


@pytest.mark.parametrize("missing", ["svix-id", "svix-timestamp", "svix-signature"])
async def test_missing_signature_header_is_401(services: Fleet, platform: Platform, missing: str) -> None:
    user_id = new_user_id()
    body, headers = signup_delivery(user_id=user_id)
    delivery_id = headers["svix-id"]
    del headers[missing]

    response = await post_auth_webhook(services, body, headers)

    assert response.status_code == 401
    await assert_nothing_written(platform, user_id=user_id, delivery_id=delivery_id)


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        json.dumps({"type": "user.created"}).encode(),
        json.dumps({"type": "user.created", "data": {"first_name": "no id"}}).encode(),
    ],
    ids=["not-json", "not-an-object", "no-data", "user-without-id"],
)
async def test_signed_but_malformed_body_is_400(services: Fleet, platform: Platform, body: bytes) -> None:
    user_id = new_user_id()
    signed, headers = signed_delivery(body, secret=TEST_AUTH_SECRET)

    response = await post_auth_webhook(services, signed, headers)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_payload"
    await assert_nothing_written(platform, user_id=user_id, delivery_id=headers["svix-id"])


async def test_event_types_we_do_not_handle_are_acknowledged_and_ignored(
    services: Fleet, platform: Platform
) -> None:
    body, headers = signed_delivery(
        {"type": "session.created", "data": {"id": "sess_1"}}, secret=TEST_AUTH_SECRET
    )

    response = await post_auth_webhook(services, body, headers)

    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
