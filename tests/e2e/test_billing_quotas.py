"""Quotas, entitlements and event-driven subscriptions (DESIGN.md 4.5, 4.6), on the real platform.

Team orgs are made by publishing workspace's own events (`org.created`, `membership.added`, …) on
`workspace.orgs`, exactly as workspace would; personal orgs come from a real signup.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from billing.handlers import ENTITLEMENT_HANDLERS
from devstack.platform import Platform
from devstack.pytest_plugin import TEST_SERVICE_KEY
from devstack.services import Fleet
from devstack.testing import bearer, bearer_token, complete_claims, eventually, fetch, service_db, sign_up
from shared.db.session import create_database
from shared.db.tenancy import app_role
from shared.events.envelope import EventData, new_envelope
from shared.events.schemas.workspace import (
    MembershipAdded,
    MembershipRemoved,
    OrgConverted,
    OrgCreated,
    OrgEntitlementEnded,
    OrgEntitlementGranted,
)
from shared.events.topics import WORKSPACE_ORGS
from shared.settings import as_asyncpg_url

SERVICE = {"X-Service-Key": TEST_SERVICE_KEY}


# --- factories and probes ---------------------------------------------------------------------


async def publish(platform: Platform, *events: EventData) -> None:
    """Publish workspace events keyed by their org id, in order."""
    producer = AIOKafkaProducer(bootstrap_servers=platform.kafka_bootstrap)
    await producer.start()
    try:
        for data in events:
            org_id = str(data.org_id)  # type: ignore[attr-defined]
            envelope = new_envelope(source="workspace", subject=org_id, data=data)
            await producer.send_and_wait(
                WORKSPACE_ORGS,
                value=envelope.to_bytes(),
                key=org_id.encode(),
                headers=[("ce_type", envelope.type.encode()), ("ce_id", str(envelope.id).encode())],
            )
    finally:
        await producer.stop()


def org_created(
    *, org_id: str, owner: str, personal: bool = False, provisioned_for: str | None = None
) -> OrgCreated:
    return OrgCreated(
        org_id=org_id,
        name="Acme",
        slug=f"acme-{org_id[:8]}",
        is_personal=personal,
        kind="personal" if personal else "team",
        owner_user_id=owner,
        created_by=owner,
        initial_plan="individual_free" if personal else "free",
        provisioned_for=provisioned_for,
    )


async def entitlements(fleet: Fleet, org_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=fleet["billing"].url, timeout=10) as client:
        response = await client.get(f"/v1/orgs/{org_id}/entitlements", headers=SERVICE)
    return {"status_code": response.status_code, **response.json()}


async def team_org(fleet: Fleet, platform: Platform, *, provisioned_for: str | None = None) -> str:
    org_id, owner = str(uuid.uuid4()), f"user_{uuid.uuid4().hex[:12]}"
    await publish(
        platform,
        org_created(org_id=org_id, owner=owner, provisioned_for=provisioned_for),
        MembershipAdded(org_id=org_id, user_id=owner, role="admin", is_personal_org=False),
    )
    await eventually(
        lambda: entitlements(fleet, org_id),
        until=lambda body: body["status_code"] == 200 and body["usage"]["seats"] == 1,
        what=f"billing knows team org {org_id}",
    )
    return org_id


async def consume(
    client: httpx.AsyncClient, org_id: str, *, key: str | None = None, quantity: int = 1
) -> httpx.Response:
    return await client.post(
        f"/v1/orgs/{org_id}/meters/sessions/consume",
        json={"quantity": quantity, "idempotency_key": key or uuid.uuid4().hex},
        headers=SERVICE,
    )


async def set_sessions_used(platform: Platform, org_id: str, *, used: int, month: date) -> None:
    await fetch(
        service_db(platform, "billing"),
        "INSERT INTO usage_counters (org_id, meter, period, used) VALUES ($1, 'sessions', $2, $3) "
        "ON CONFLICT (org_id, meter, period) DO UPDATE SET used = excluded.used",
        org_id,
        month,
        used,
    )


def this_month() -> date:
    now = datetime.now(UTC)
    return date(now.year, now.month, 1)


# --- sessions -----------------------------------------------------------------------------------


async def test_consume_counts_down_the_month_and_refuses_with_the_plan_to_upgrade_to(services: Fleet) -> None:
    _, claims = await sign_up(services)
    org_id = claims["org_id"]
    async with httpx.AsyncClient(base_url=services["billing"].url, timeout=10) as client:
        first = await consume(client, org_id)
        assert first.status_code == 200, first.text
        body = first.json()
        assert (body["used"], body["limit"], body["remaining"]) == (1, 10, 9)
        now = datetime.now(UTC)
        next_month = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
        assert datetime.fromisoformat(body["resets_at"]) == next_month

        assert (await consume(client, org_id, quantity=9)).json()["remaining"] == 0
        refused = await consume(client, org_id)
    assert refused.status_code == 402
    assert refused.json() == {
        "error": {
            "code": "quota_exceeded",
            "message": refused.json()["error"]["message"],
            "limit": 10,
            "used": 10,
            "upgrade_to": "individual_pro",
        }
    }


async def test_fifty_concurrent_consumes_with_ten_remaining_let_exactly_ten_through(
    services: Fleet, platform: Platform
) -> None:
    org_id = await team_org(services, platform)  # team free: 30 sessions a month
    await set_sessions_used(platform, org_id, used=20, month=this_month())
    async with httpx.AsyncClient(base_url=services["billing"].url, timeout=30) as client:
        answers = await asyncio.gather(*(consume(client, org_id) for _ in range(50)))
    statuses = sorted(response.status_code for response in answers)
    assert statuses == [200] * 10 + [402] * 40
    accepted_used = sorted(response.json()["used"] for response in answers if response.status_code == 200)
    assert accepted_used == list(range(21, 31))
    assert all(r.json()["error"]["used"] == 30 for r in answers if r.status_code == 402)
    assert (await entitlements(services, org_id))["usage"]["sessions"] == 30


async def test_one_idempotency_key_counts_once_even_when_sent_concurrently(services: Fleet) -> None:
    _, claims = await sign_up(services)
    org_id = claims["org_id"]
    async with httpx.AsyncClient(base_url=services["billing"].url, timeout=30) as client:
        answers = await asyncio.gather(*(consume(client, org_id, key="practice-call-1") for _ in range(10)))
        later = await consume(client, org_id, key="practice-call-1")
    assert {response.status_code for response in answers} == {200}
    assert {response.text for response in [*answers, later]} == {answers[0].text}
    assert answers[0].json()["used"] == 1
    assert (await entitlements(services, org_id))["usage"]["sessions"] == 1


async def test_a_refused_key_keeps_its_refusal(services: Fleet, platform: Platform) -> None:
    _, claims = await sign_up(services)
    org_id = claims["org_id"]
    await set_sessions_used(platform, org_id, used=10, month=this_month())
    async with httpx.AsyncClient(base_url=services["billing"].url, timeout=10) as client:
        first = await consume(client, org_id, key="k")
        await set_sessions_used(platform, org_id, used=0, month=this_month())
        again = await consume(client, org_id, key="k")
    assert (first.status_code, again.status_code) == (402, 402)
    assert first.json() == again.json()


async def test_the_month_rolls_over_without_a_reset(services: Fleet, platform: Platform) -> None:
    _, claims = await sign_up(services)
    org_id = claims["org_id"]
    last_month = date(this_month().year - (this_month().month == 1), (this_month().month - 2) % 12 + 1, 1)
    await set_sessions_used(platform, org_id, used=10, month=last_month)
    async with httpx.AsyncClient(base_url=services["billing"].url, timeout=10) as client:
        response = await consume(client, org_id)
    assert response.status_code == 200
    assert (response.json()["used"], response.json()["remaining"]) == (1, 9)
    rows = await fetch(
        service_db(platform, "billing"),
        "SELECT period, used FROM usage_counters WHERE org_id = $1 AND meter = 'sessions' ORDER BY period",
        org_id,
    )
    assert [(row["period"], row["used"]) for row in rows] == [(last_month, 10), (this_month(), 1)]


async def test_unlimited_plans_count_without_refusing(services: Fleet, platform: Platform) -> None:
    org_id = await team_org(services, platform)
    await fetch(
        service_db(platform, "billing"),
        "UPDATE subscriptions SET plan = 'professional' WHERE org_id = $1",
        org_id,
    )
    await set_sessions_used(platform, org_id, used=1000, month=this_month())
    async with httpx.AsyncClient(base_url=services["billing"].url, timeout=10) as client:
        response = await consume(client, org_id, quantity=10)
    assert response.status_code == 200
    assert response.json()["used"] == 1010
    assert response.json()["limit"] is None and response.json()["remaining"] is None


async def test_bad_input_and_unknown_orgs_are_clear_4xx(services: Fleet) -> None:
    async with httpx.AsyncClient(base_url=services["billing"].url, timeout=10) as client:
        unknown = await consume(client, str(uuid.uuid4()))
        no_key = await client.post(
            f"/v1/orgs/{uuid.uuid4()}/meters/sessions/consume", json={}, headers=SERVICE
        )
        zero = await consume(client, str(uuid.uuid4()), quantity=0)
        no_service_key = await client.post(
            f"/v1/orgs/{uuid.uuid4()}/meters/sessions/consume", json={"idempotency_key": "k"}
        )
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "org_not_found")
    assert (no_key.status_code, no_key.json()["error"]["code"]) == (422, "validation_error")
    assert zero.status_code == 422
    assert (no_service_key.status_code, no_service_key.json()["error"]["code"]) == (401, "invalid_token")


# --- scenarios and downgrades ----------------------------------------------------------------------


async def test_scenarios_reserve_up_to_the_limit_and_release(services: Fleet) -> None:
    _, claims = await sign_up(services)  # individual_free: 3 scenarios
    org_id = claims["org_id"]
    base = f"/v1/orgs/{org_id}/meters/scenarios"
    async with httpx.AsyncClient(base_url=services["billing"].url, timeout=10) as client:
        held = [
            await client.post(f"{base}/reserve", json={"idempotency_key": f"s{i}"}, headers=SERVICE)
            for i in range(4)
        ]
        replay = await client.post(f"{base}/reserve", json={"idempotency_key": "s0"}, headers=SERVICE)
        released = [
            await client.post(f"{base}/release", json={"idempotency_key": "s1"}, headers=SERVICE)
            for _ in range(2)
        ]
        again = await client.post(f"{base}/reserve", json={"idempotency_key": "s4"}, headers=SERVICE)
    assert [r.status_code for r in held] == [200, 200, 200, 402]
    assert held[2].json() == {"used": 3, "limit": 3, "remaining": 0}
    assert held[3].json()["error"] | {"message": ""} == {
        "code": "quota_exceeded",
        "message": "",
        "limit": 3,
        "used": 3,
        "upgrade_to": "individual_pro",
    }
    assert replay.json() == held[0].json()
    assert [r.json()["used"] for r in released] == [2, 2]  # one key releases once
    assert again.status_code == 200 and again.json()["used"] == 3


async def test_a_downgrade_below_usage_keeps_the_data_and_blocks_only_new_use(
    services: Fleet, platform: Platform
) -> None:
    _, claims = await sign_up(services)
    org_id = claims["org_id"]
    billing_db = service_db(platform, "billing")
    await fetch(billing_db, "UPDATE subscriptions SET plan = 'individual_pro' WHERE org_id = $1", org_id)
    await set_sessions_used(platform, org_id, used=30, month=this_month())
    async with httpx.AsyncClient(base_url=services["billing"].url, timeout=10) as client:
        assert (await consume(client, org_id, quantity=10)).json()["used"] == 40
        # The org goes back to individual_free (10 a month), below what it used this month.
        await fetch(billing_db, "UPDATE subscriptions SET plan = 'individual_free' WHERE org_id = $1", org_id)
        refused = await consume(client, org_id)
    assert refused.status_code == 402
    assert (refused.json()["error"]["used"], refused.json()["error"]["limit"]) == (40, 10)
    body = await entitlements(services, org_id)
    assert (body["usage"]["sessions"], body["limits"]["sessions_per_month"]) == (40, 10)


# --- subscriptions driven by workspace events ------------------------------------------------------


async def test_a_personal_signup_starts_on_individual_free_with_its_entitlements(services: Fleet) -> None:
    _, claims = await sign_up(services)
    body = await entitlements(services, claims["org_id"])
    assert (body["plan"], body["kind"], body["status"]) == ("individual_free", "personal", "active")
    assert body["limits"] == {"seats": 1, "sessions_per_month": 10, "scenarios": 3}
    assert body["usage"] == {"seats": 1, "sessions": 0, "scenarios": 0}
    assert body["features"]["ai_scenario_generation"] is False


async def test_team_orgs_start_on_free_and_skool_ones_on_business(
    services: Fleet, platform: Platform
) -> None:
    team = await entitlements(services, await team_org(services, platform))
    skool = await entitlements(services, await team_org(services, platform, provisioned_for="skool"))
    assert (team["plan"], team["kind"], team["limits"]["seats"]) == ("free", "team", 3)
    assert (skool["plan"], skool["limits"]["sessions_per_month"]) == ("business", 500)


async def test_seats_follow_membership_events(services: Fleet, platform: Platform) -> None:
    org_id = await team_org(services, platform)
    await publish(
        platform,
        MembershipAdded(org_id=org_id, user_id="user_b", role="trainee", is_personal_org=False),
        MembershipAdded(org_id=org_id, user_id="user_c", role="manager", is_personal_org=False),
        MembershipRemoved(org_id=org_id, user_id="user_b", reason="left"),
    )
    await eventually(
        lambda: entitlements(services, org_id),
        until=lambda body: body["usage"]["seats"] == 2,
        what="seats = owner + user_c",
    )


async def test_a_conversion_moves_the_org_to_starter_on_trial_and_the_claims_follow(
    services: Fleet, platform: Platform
) -> None:
    user_id, claims = await sign_up(services)
    org_id = claims["org_id"]
    await publish(
        platform,
        OrgConverted(
            org_id=org_id, name="Ada's Team", slug=f"ada-{org_id[:8]}", owner_user_id=user_id, plan="starter"
        ),
    )
    body = await eventually(
        lambda: entitlements(services, org_id),
        until=lambda body: body["plan"] == "starter",
        what="the converted org is on starter",
    )
    assert (body["kind"], body["status"], body["limits"]["seats"]) == ("team", "trialing", 10)
    trial_end = datetime.fromisoformat(body["current_period_end"])
    assert 13.9 < (trial_end - datetime.now(UTC)).total_seconds() / 86400 <= 14
    await eventually(
        lambda: complete_claims(services, user_id),
        until=lambda claims: claims["plan"] == "starter",
        what="claims follow the conversion",
    )
    versions = await fetch(
        service_db(platform, "billing"),
        "SELECT version FROM subscriptions WHERE org_id = $1",
        org_id,
    )
    assert versions[0]["version"] == 2


# --- catalog and access --------------------------------------------------------------------------


async def test_the_plans_page_gets_every_plan_grouped_by_kind(services: Fleet) -> None:
    async with httpx.AsyncClient(base_url=services["billing"].url, timeout=10) as client:
        response = await client.get("/v1/plans")
    assert response.status_code == 200
    body = response.json()
    assert [plan["id"] for plan in body["individual"]] == [
        "individual_free",
        "individual_pro",
        "individual_ultra",
    ]
    assert [plan["id"] for plan in body["team"]] == [
        "free",
        "starter",
        "professional",
        "business",
        "enterprise",
    ]
    pro = body["individual"][1]
    assert pro == {
        "id": "individual_pro",
        "name": "Pro",
        "kind": "personal",
        "seats": 1,
        "sessions_per_month": 100,
        "scenarios": 50,
        "features": pro["features"],
        "prices": {"month": 2900, "year": 29000},
        "per_seat": False,
        "purchasable": True,
        "stripe_prices": {"month": "price_individual_pro_month", "year": "price_individual_pro_year"},
    }
    professional = body["team"][2]
    assert (professional["sessions_per_month"], professional["per_seat"]) == (None, True)
    assert body["team"][3]["purchasable"] is False and body["team"][3]["stripe_prices"] == {
        "month": None,
        "year": None,
    }


async def test_members_read_entitlements_and_consume_with_a_bearer_token_others_cannot(
    services: Fleet,
) -> None:
    user_id, claims = await sign_up(services)
    stranger, _ = await sign_up(services)
    org_id = claims["org_id"]
    token, stranger_token = await bearer_token(services, user_id), await bearer_token(services, stranger)

    async def as_member() -> int:
        async with httpx.AsyncClient(base_url=services["billing"].url, timeout=10) as client:
            return (await client.get(f"/v1/orgs/{org_id}/entitlements", headers=bearer(token))).status_code

    await eventually(as_member, until=lambda status: status == 200, what="billing knows the member")
    async with httpx.AsyncClient(base_url=services["billing"].url, timeout=10) as client:
        used = await client.post(
            f"/v1/orgs/{org_id}/meters/sessions/consume", json={"idempotency_key": "a"}, headers=bearer(token)
        )
        hidden = await client.get(f"/v1/orgs/{org_id}/entitlements", headers=bearer(stranger_token))
        not_theirs = await client.post(
            f"/v1/orgs/{org_id}/meters/sessions/consume",
            json={"idempotency_key": "b"},
            headers=bearer(stranger_token),
        )
        forged = await client.get(f"/v1/orgs/{org_id}/entitlements", headers=bearer("not-a-token"))
    assert used.status_code == 200 and used.json()["used"] == 1
    assert (hidden.status_code, hidden.json()["error"]["code"]) == (404, "org_not_found")
    assert (not_theirs.status_code, not_theirs.json()["error"]["code"]) == (404, "org_not_found")
    assert (forged.status_code, forged.json()["error"]["code"]) == (401, "invalid_token")


# --- Skool ---------------------------------------------------------------------------------------------
# workspace tells billing about Skool entitlements with org.entitlement_granted / _ended (the whole
# flow is in tests/e2e/test_skool_*.py); these tests hand such events straight to billing's own
# handlers, in billing's database as its session role, exactly as its consumer would, to pin down
# billing's rules; the effect is read back through billing's API.


async def deliver_to_billing(
    platform: Platform, *events: OrgEntitlementGranted | OrgEntitlementEnded
) -> None:
    """Apply each event with billing's handler, one unit of work each (as consumer batches)."""
    url = as_asyncpg_url(service_db(platform, "billing"))
    database = create_database(url, pool_size=1, session_role=app_role("billing"))
    try:
        for data in events:
            envelope = new_envelope(source="workspace", subject=data.org_id, data=data)
            async with database.unit_of_work() as session:
                await ENTITLEMENT_HANDLERS[envelope.type](session, envelope)
    finally:
        await database.dispose()


async def test_skool_moves_a_team_org_to_business_and_back_to_free_at_the_period_end(
    services: Fleet, platform: Platform
) -> None:
    org_id = await team_org(services, platform)
    now = datetime.now(UTC)
    period_end = (now + timedelta(days=20)).replace(microsecond=0)
    member = {"org_id": org_id, "source": "skool"}
    await deliver_to_billing(
        platform,
        OrgEntitlementGranted(**member, occurred_at=now - timedelta(days=10), period_end=period_end),
        OrgEntitlementEnded(**member, occurred_at=now - timedelta(minutes=1), period_end=period_end),
        # A late, older delivery of the subscription changes nothing.
        OrgEntitlementGranted(**member, occurred_at=now - timedelta(days=9), period_end=period_end),
    )
    body = await entitlements(services, org_id)
    assert (body["plan"], body["limits"]["sessions_per_month"], body["cancel_at_period_end"]) == (
        "business",
        500,
        True,
    )
    assert datetime.fromisoformat(body["current_period_end"]) == period_end

    # Cancelled again without a period end (e.g. refunded): the org is on free at once.
    await deliver_to_billing(platform, OrgEntitlementEnded(**member, occurred_at=now))
    body = await entitlements(services, org_id)
    assert (body["plan"], body["status"], body["cancel_at_period_end"], body["current_period_end"]) == (
        "free",
        "canceled",
        False,
        None,
    )
    announced = await fetch(
        service_db(platform, "billing"),
        "SELECT count(*) AS n FROM outbox WHERE key = $1 AND event_type = 'subscription.changed'",
        org_id,
    )
    assert announced[0]["n"] == 4  # started, business, cancelling, free


async def test_entitlements_of_unknown_orgs_or_sources_change_nothing(
    services: Fleet, platform: Platform
) -> None:
    org_id = await team_org(services, platform)
    now = datetime.now(UTC)
    await deliver_to_billing(
        platform,
        OrgEntitlementGranted(org_id=str(uuid.uuid4()), occurred_at=now),
        OrgEntitlementEnded(org_id=str(uuid.uuid4()), occurred_at=now),
        OrgEntitlementGranted(org_id=org_id, source="elsewhere", occurred_at=now),
    )
    assert (await entitlements(services, org_id))["plan"] == "free"
