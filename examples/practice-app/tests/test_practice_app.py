"""The example product service end to end on the real platform: a signup's features arrive through
FastStream, practice sessions are gated on billing's quota, a Stripe upgrade unlocks features within
seconds, and replayed or duplicate events change nothing."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from backbone_client.events import UserDeleted
from backbone_client.inbox import Inbox
from backbone_client.testing import new_event
from devstack.examples import ExampleApp
from devstack.platform import Platform
from devstack.services import Fleet
from devstack.stripe_webhooks import post_stripe, stripe_event, subscription_object
from devstack.testing import bearer, bearer_token, eventually, fetch, service_db, sign_up, wait_consumed

CONSUMER_GROUP = "practice-app"
TOPIC = "billing.subscriptions"


async def plan_features(services: Fleet, plan: str) -> dict[str, bool]:
    """The catalog's flags of `plan`, as billing's public `GET /v1/plans` lists them."""
    async with httpx.AsyncClient(base_url=services["billing"].url, timeout=10) as client:
        plans = (await client.get("/v1/plans")).json()
    [found] = [entry for entry in plans["individual"] + plans["team"] if entry["id"] == plan]
    features: dict[str, bool] = found["features"]
    return features


async def app_call(app: ExampleApp, method: str, path: str, token: str | None = None) -> httpx.Response:
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
        return await client.request(method, path, headers=bearer(token) if token else {})


async def signed_up_with_features(services: Fleet, app: ExampleApp) -> tuple[str, str, str]:
    """A new user whose personal org the example knows: (user id, org id, token)."""
    user_id, claims = await sign_up(services)
    token = await bearer_token(services, user_id)
    await eventually(
        lambda: app_call(app, "GET", "/v1/me/features", token),
        until=lambda response: response.status_code == 200,
        timeout=15,
        what="the example learned the new org's plan",
    )
    return user_id, str(claims["org_id"]), token


async def stripe_upgrade(services: Fleet, org_id: str, plan: str) -> None:
    """Stripe's checkout completion and the new subscription, signed, as Stripe would send them."""
    subscription = subscription_object(org_id=org_id, plan=plan, customer="cus_practice")
    completed = {
        "id": f"cs_{uuid.uuid4().hex[:14]}",
        "object": "checkout.session",
        "customer": "cus_practice",
        "subscription": subscription["id"],
        "client_reference_id": org_id,
        "metadata": {"org_id": org_id, "plan": plan},
    }
    for event_type, obj in [
        ("checkout.session.completed", completed),
        ("customer.subscription.created", subscription),
    ]:
        response = await post_stripe(services, stripe_event(event_type, obj))
        assert response.status_code == 200 and response.json()["status"] == "processed", response.text


async def test_a_signup_gets_its_plans_features_then_ten_sessions_and_the_eleventh_is_refused(
    services: Fleet, practice_app: ExampleApp
) -> None:
    user_id, org_id, token = await signed_up_with_features(services, practice_app)
    features = (await app_call(practice_app, "GET", "/v1/me/features", token)).json()
    assert features == {
        "org_id": org_id,
        "plan": "individual_free",
        "features": await plan_features(services, "individual_free"),
    }
    for number in range(1, 11):
        started = await app_call(practice_app, "POST", "/v1/practice-sessions", token)
        assert started.status_code == 201, started.text
        body = started.json()
        assert (body["org_id"], body["user_id"], body["sessions"]["used"]) == (org_id, user_id, number)
    refused = await app_call(practice_app, "POST", "/v1/practice-sessions", token)
    assert refused.status_code == 402, refused.text
    error = refused.json()["error"]
    assert (error["code"], error["upgrade_to"], error["limit"], error["used"]) == (
        "quota_exceeded",
        "individual_pro",
        10,
        10,
    )


async def test_a_signed_stripe_upgrade_reaches_the_features_within_seconds(
    services: Fleet, practice_app: ExampleApp
) -> None:
    _, org_id, token = await signed_up_with_features(services, practice_app)
    started = time.monotonic()
    await stripe_upgrade(services, org_id, "individual_pro")
    upgraded = await eventually(
        lambda: app_call(practice_app, "GET", "/v1/me/features", token),
        until=lambda response: response.json().get("plan") == "individual_pro",
        timeout=10,
        what="the upgrade reached the example",
    )
    assert time.monotonic() - started < 10
    pro = await plan_features(services, "individual_pro")
    assert upgraded.json()["features"] == pro and pro["performance_analytics"] is True


async def test_replayed_and_duplicate_events_change_nothing(
    services: Fleet, platform: Platform, practice_app: ExampleApp
) -> None:
    _, org_id, token = await signed_up_with_features(services, practice_app)
    await stripe_upgrade(services, org_id, "individual_pro")
    await eventually(
        lambda: app_call(practice_app, "GET", "/v1/me/features", token),
        until=lambda response: response.json().get("plan") == "individual_pro",
        timeout=10,
        what="the upgrade reached the example",
    )
    before = (await app_call(practice_app, "GET", "/v1/me/features", token)).json()
    # Every subscription.changed billing published for the org, exactly as published (same ids):
    # a replay, twice over; and the first one again under a new id (an older version, newly sent).
    rows = await fetch(
        service_db(platform, "billing"),
        "SELECT event_id, value FROM outbox WHERE event_type = 'subscription.changed' AND key = $1 "
        "ORDER BY position",
        org_id,
    )
    assert len(rows) >= 2
    oldest = json.loads(bytes(rows[0]["value"]))
    older_renamed = json.dumps({**oldest, "id": str(uuid.uuid4())}).encode()
    records = [bytes(row["value"]) for row in rows] * 2 + [older_renamed]
    producer = AIOKafkaProducer(**platform.kafka_connection().client_kwargs())
    await producer.start()
    try:
        for value in records:
            await producer.send_and_wait(TOPIC, value=value, key=org_id.encode())
    finally:
        await producer.stop()
    await wait_consumed(platform.kafka_connection(), group=CONSUMER_GROUP, topic=TOPIC)
    after = (await app_call(practice_app, "GET", "/v1/me/features", token)).json()
    assert after == before and after["plan"] == "individual_pro"
    ids = [str(row["event_id"]) for row in rows] + [json.loads(older_renamed)["id"]]
    claimed = await fetch(
        service_db(platform, "practice_app"),
        "SELECT event_id::text AS event_id, count(*) AS n FROM inbox "
        "WHERE event_id::text = ANY($1) GROUP BY 1",
        ids,
    )
    assert {row["event_id"]: row["n"] for row in claimed} == dict.fromkeys(ids, 1)


async def test_bad_requests_are_clear_4xx_never_500(practice_app: ExampleApp) -> None:
    answers: list[Any] = [
        await app_call(practice_app, "GET", "/v1/me/features"),
        await app_call(practice_app, "GET", "/v1/me/features", "not-a-token"),
        await app_call(practice_app, "POST", "/v1/practice-sessions", "a.b.c"),
    ]
    assert [(answer.status_code, answer.json()["error"]["code"]) for answer in answers] == [
        (401, "invalid_token")
    ] * 3
    schema = (await app_call(practice_app, "GET", "/openapi.json")).json()
    responses = schema["paths"]["/v1/practice-sessions"]["post"]["responses"]
    assert {"201", "401", "402", "404", "409", "502", "503"} <= set(responses)


async def test_the_app_describes_what_it_consumes_in_its_own_asyncapi(practice_app: ExampleApp) -> None:
    document = (await app_call(practice_app, "GET", "/asyncapi.json")).json()
    assert document["asyncapi"] == "3.0.0"
    assert [channel["address"] for channel in document["channels"].values()] == [TOPIC]
    schemas = document["components"]["schemas"]
    assert {"SubscriptionChanged", "PlanLimits"} <= set(schemas)
    assert "version" in schemas["SubscriptionChanged"]["required"]


async def test_the_kits_inbox_claims_an_event_once_and_prunes_old_entries(practice_app: ExampleApp) -> None:
    """The inbox on real PostgreSQL (the example's database, as its own login), a table of its own."""
    metadata = MetaData()
    inbox = Inbox(metadata, consumer=f"inbox-test-{uuid.uuid4().hex[:8]}", name="kit_inbox_test")
    engine = create_async_engine(practice_app.env["PRACTICE_APP_DATABASE_URL"])
    event = new_event(UserDeleted(user_id="user_x"), subject="user_x")
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        sessions = async_sessionmaker(engine)
        claims = []
        for _ in range(2):
            async with sessions.begin() as session:
                claims.append(await inbox.claim(session, event))
        async with sessions.begin() as session:
            kept = await inbox.prune(session, older_than=timedelta(days=14))
            pruned = await inbox.prune(session, older_than=timedelta(seconds=-1))
        async with sessions.begin() as session:
            claims.append(await inbox.claim(session, event))  # forgotten: claimable again
    finally:
        await engine.dispose()
    assert (claims, kept, pruned) == ([True, False, True], 0, 1)
