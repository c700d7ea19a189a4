"""`POST /v1/webhooks/skool` (API.md): signature, tolerance, validation, deduplication, storage."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from devstack.platform import Platform
from devstack.pytest_plugin import TEST_ENV, TEST_OPERATOR_KEY
from devstack.services import Fleet
from devstack.testing import count
from skool_ingest.signature import HEADER, sign

SECRET = TEST_ENV["SKOOL_INGEST_WEBHOOK_SECRET"]


def delivery(*, email: str, event: str = "member.subscribed", **fields: Any) -> dict[str, Any]:
    return {
        "event": event,
        "email": email,
        "first_name": "Kim",
        "community_id": "sales-dojo",
        "community_name": "Sales Dojo",
        "occurred_at": "2026-11-30T12:00:00Z",
        **fields,
    }


async def post(
    fleet: Fleet, body: dict[str, Any] | bytes, *, secret: str = SECRET, at: int | None = None
) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    signature = sign(secret=secret, timestamp=at if at is not None else int(time.time()), body=raw)
    async with httpx.AsyncClient(base_url=fleet["skool-ingest"].url, timeout=10) as client:
        return await client.post("/v1/webhooks/skool", content=raw, headers={HEADER: signature})


async def rejections(fleet: Fleet) -> dict[str, int]:
    async with httpx.AsyncClient(base_url=fleet["skool-ingest"].url, timeout=10) as client:
        response = await client.get(
            "/v1/webhooks/skool/rejections", headers={"X-Service-Key": TEST_OPERATOR_KEY}
        )
    assert response.status_code == 200, response.text
    counts: dict[str, int] = response.json()["rejections"]
    return counts


def new_email() -> str:
    return f"member-{uuid.uuid4().hex[:10]}@example.com"


async def stored(platform: Platform, email: str) -> int:
    return await count(
        platform, "skool-ingest", "SELECT count(*) FROM skool_deliveries WHERE email = $1", email
    )


async def test_bad_or_stale_signatures_are_refused_counted_and_not_stored(
    services: Fleet, platform: Platform
) -> None:
    email = new_email()
    before = await rejections(services)
    wrong = await post(services, delivery(email=email), secret="not-the-secret")
    # A minute past the 300 s tolerance either way: `+ 301` flaked on a loaded machine, as the
    # request's own delay (and int() of the clock) brought the stamp back inside the tolerance.
    stale = await post(services, delivery(email=email), at=int(time.time()) - 360)
    future = await post(services, delivery(email=email), at=int(time.time()) + 360)
    async with httpx.AsyncClient(base_url=services["skool-ingest"].url, timeout=10) as client:
        unsigned = await client.post("/v1/webhooks/skool", json=delivery(email=email))
        garbled = await client.post(
            "/v1/webhooks/skool", json=delivery(email=email), headers={HEADER: "v1=abc"}
        )

    for response in (wrong, stale, future, unsigned, garbled):
        assert (response.status_code, response.json()["error"]["code"]) == (401, "invalid_signature")
    assert await stored(platform, email) == 0
    after = await rejections(services)
    assert after.get("signature_mismatch", 0) - before.get("signature_mismatch", 0) == 1
    assert after.get("stale_timestamp", 0) - before.get("stale_timestamp", 0) == 2
    assert after.get("missing_signature", 0) - before.get("missing_signature", 0) == 1
    assert after.get("malformed_signature", 0) - before.get("malformed_signature", 0) == 1


async def test_malformed_bodies_and_unknown_events_get_422(services: Fleet, platform: Platform) -> None:
    email = new_email()
    not_json = await post(services, b"{not json")
    no_community = await post(
        services, {k: v for k, v in delivery(email=email).items() if k != "community_id"}
    )
    bad_email = await post(services, delivery(email="not-an-address"))
    bad_time = await post(services, delivery(email=email, occurred_at="yesterday"))
    unknown = await post(services, delivery(email=email, event="member.upgraded"))
    not_utf8 = await post(services, json.dumps(delivery(email=email)).encode("utf-16"))
    nul = await post(services, delivery(email=email, first_name="Kim\u0000"))
    a_list = await post(services, b"[]")

    for response in (not_json, no_community, bad_email, bad_time, not_utf8, nul, a_list):
        assert (response.status_code, response.json()["error"]["code"]) == (422, "validation_error")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (422, "unknown_event")
    assert await stored(platform, email) == 0


async def test_a_delivery_is_stored_once_whether_or_not_it_has_an_event_id(
    services: Fleet, platform: Platform
) -> None:
    with_id, without_id = new_email(), new_email()
    first = delivery(email=with_id, event_id=f"evt_{uuid.uuid4().hex}")
    second = delivery(email=without_id)
    statuses = [(await post(services, first)).json()["status"] for _ in range(5)]
    # Without event_id, the natural key (normalized email, community, event, occurred_at) decides.
    statuses += [(await post(services, second)).json()["status"] for _ in range(3)]
    statuses.append((await post(services, {**second, "email": f"  {without_id.upper()} "})).json()["status"])
    # The same delivery sent once more, now without its event_id.
    statuses.append(
        (await post(services, {k: v for k, v in first.items() if k != "event_id"})).json()["status"]
    )

    assert statuses == ["accepted"] + ["duplicate"] * 4 + ["accepted"] + ["duplicate"] * 4
    for email in (with_id, without_id):
        assert await stored(platform, email) == 1
        assert (
            await count(
                platform,
                "skool-ingest",
                "SELECT count(*) FROM outbox WHERE key = $1 AND event_type = 'skool.subscribed'",
                email,
            )
            == 1
        )
    row = await count(
        platform,
        "skool-ingest",
        "SELECT count(*) FROM skool_deliveries WHERE email = $1 AND verified AND received_at <= now() "
        "AND body::jsonb ->> 'email' = $1",
        with_id,
    )
    assert row == 1


async def test_the_newest_occurred_at_wins_in_skool_subscriptions(
    services: Fleet, platform: Platform
) -> None:
    email = new_email()
    cancelled = delivery(email=email, event="member.cancelled", occurred_at="2026-11-30T13:00:00Z")
    older = delivery(email=email, occurred_at="2026-11-30T12:00:00Z", period_end="2026-12-30T12:00:00Z")
    assert (await post(services, cancelled)).status_code == 202
    assert (await post(services, older)).json()["status"] == "accepted"  # stored, but stale

    state = await count(
        platform,
        "skool-ingest",
        "SELECT count(*) FROM skool_subscriptions WHERE email = $1 AND status = 'cancelled' "
        "AND occurred_at = $2",
        email,
        datetime(2026, 11, 30, 13, tzinfo=UTC),
    )
    assert state == 1
    events = await count(platform, "skool-ingest", "SELECT count(*) FROM outbox WHERE key = $1", email)
    assert events == 1  # only the cancellation: the older subscription changed nothing
