"""Stripe: checkout and portal through the stripe SDK against stripe-mock, webhooks signed with
Stripe's real scheme, subscription state, staleness, grace and conversion (DESIGN.md 4.4, 4.5)."""

from __future__ import annotations

import itertools
import json
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from devstack.platform import Platform
from devstack.pytest_plugin import TEST_SERVICE_KEY
from devstack.services import Fleet
from devstack.stripe_mock import sign_stripe_payload
from devstack.stripe_webhooks import WEBHOOK_SECRET, post_stripe, stripe_event, subscription_object
from devstack.testing import (
    bearer,
    bearer_token,
    complete_claims,
    count,
    eventually,
    fetch,
    service_db,
    sign_up,
)
from shared.events.envelope import EventData, new_envelope
from shared.events.schemas.workspace import MembershipAdded, OrgConverted, OrgCreated
from shared.events.topics import WORKSPACE_ORGS

SERVICE = {"X-Service-Key": TEST_SERVICE_KEY}
PERSONAL_PLANS = ("individual_free", "individual_pro", "individual_ultra")
TEAM_PLANS = ("free", "starter", "professional", "business", "enterprise")


# --- factories ---------------------------------------------------------------------------------


async def publish(platform: Platform, *events: EventData) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=platform.kafka_bootstrap)
    await producer.start()
    try:
        for data in events:
            org_id = str(data.org_id)  # type: ignore[attr-defined]
            envelope = new_envelope(source="workspace", subject=org_id, data=data)
            await producer.send_and_wait(WORKSPACE_ORGS, value=envelope.to_bytes(), key=org_id.encode())
    finally:
        await producer.stop()


async def entitlements(fleet: Fleet, org_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=fleet["billing"].url, timeout=10) as client:
        response = await client.get(f"/v1/orgs/{org_id}/entitlements", headers=SERVICE)
    return {"status_code": response.status_code, **response.json()}


async def personal_org(fleet: Fleet) -> tuple[str, str, str]:
    """A signed-up user: (user id, personal org id, bearer token), billing knowing the member."""
    user_id, claims = await sign_up(fleet)
    org_id = str(claims["org_id"])
    await eventually(
        lambda: entitlements(fleet, org_id),
        until=lambda body: body["status_code"] == 200 and body["usage"]["seats"] == 1,
        what="billing knows the personal org's member",
    )
    return user_id, org_id, await bearer_token(fleet, user_id)


async def team_org(
    fleet: Fleet, platform: Platform, *, admin: str, others: dict[str, str] | None = None
) -> str:
    """A team org (as workspace would announce it) with `admin` and `others` (user id → role)."""
    org_id = str(uuid.uuid4())
    members = {admin: "admin", **(others or {})}
    await publish(
        platform,
        OrgCreated(
            org_id=org_id,
            name="Acme",
            slug=f"acme-{org_id[:8]}",
            is_personal=False,
            kind="team",
            owner_user_id=admin,
            created_by=admin,
            initial_plan="free",
        ),
        *(
            MembershipAdded(org_id=org_id, user_id=user, role=role, is_personal_org=False)
            for user, role in members.items()
        ),
    )
    await eventually(
        lambda: entitlements(fleet, org_id),
        until=lambda body: body["status_code"] == 200 and body["usage"]["seats"] == len(members),
        what=f"billing knows team org {org_id}",
    )
    return org_id


def invoice_object(*, subscription_id: str, customer: str = "cus_test") -> dict[str, Any]:
    return {
        "id": f"in_{uuid.uuid4().hex[:14]}",
        "object": "invoice",
        "customer": customer,
        "subscription": subscription_id,
    }


async def checkout(
    fleet: Fleet, org_id: str, token: str, *, plan: str, interval: str = "month"
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=fleet["billing"].url, timeout=30) as client:
        return await client.post(
            f"/v1/orgs/{org_id}/checkout", json={"plan": plan, "interval": interval}, headers=bearer(token)
        )


async def billing_row(platform: Platform, org_id: str) -> dict[str, Any]:
    rows = await fetch(
        service_db(platform, "billing"), "SELECT * FROM subscriptions WHERE org_id = $1", org_id
    )
    return dict(rows[0])


async def backdate(platform: Platform, org_id: str, *, subscription_set: str, schedule_set: str) -> None:
    """Move an org's clock-driven fields into the past, in one transaction (as if time passed)."""
    await fetch(
        service_db(platform, "billing"),
        f"WITH moved AS (UPDATE subscriptions SET {subscription_set} WHERE org_id = $1 RETURNING org_id) "
        f"UPDATE lapse_schedule SET {schedule_set} WHERE org_id IN (SELECT org_id FROM moved)",
        org_id,
    )


async def end_period_now(
    services: Fleet, platform: Platform, org_id: str, *, plan: str, what: str
) -> dict[str, Any]:
    """Move the org's period end (and its lapse) a minute into the past; wait for the lapse job to
    put it on `plan`, and return its entitlements."""
    await backdate(
        platform,
        org_id,
        subscription_set="current_period_end = now() - interval '1 minute'",
        schedule_set="due_at = now() - interval '1 minute'",
    )
    body: dict[str, Any] = await eventually(
        lambda: entitlements(services, org_id), until=lambda body: body["plan"] == plan, what=what
    )
    return body


# --- checkout and portal -------------------------------------------------------------------------


@pytest.mark.parametrize("interval", ["month", "year"])
async def test_checkout_rules_for_every_plan_and_org_kind(
    services: Fleet, platform: Platform, interval: str
) -> None:
    user_id, personal, token = await personal_org(services)
    team = await team_org(services, platform, admin=user_id)
    team_token = await bearer_token(services, user_id, org_id=team)
    expected: dict[tuple[str, str], tuple[int, str | None]] = {}
    for plan in PERSONAL_PLANS + TEAM_PLANS:
        personal_plan = plan in PERSONAL_PLANS
        purchasable = plan in ("individual_pro", "individual_ultra", "starter", "professional")
        for kind in ("personal", "team"):
            if personal_plan != (kind == "personal"):
                expected[(plan, kind)] = (422, "plan_kind_mismatch")
            elif not purchasable:
                expected[(plan, kind)] = (422, "plan_not_purchasable")
            else:
                expected[(plan, kind)] = (200, None)
    answers: dict[tuple[str, str], tuple[int, str | None]] = {}
    for plan, kind in expected:
        org_id, bearer_of = (personal, token) if kind == "personal" else (team, team_token)
        response = await checkout(services, org_id, bearer_of, plan=plan, interval=interval)
        body = response.json()
        answers[(plan, kind)] = (response.status_code, body.get("error", {}).get("code"))
        if response.status_code == 200:
            assert body["url"].startswith("https://") and body["session_id"].startswith("cs_")
    assert answers == expected
    # One Stripe customer per org, made on first need and kept.
    for org_id in (personal, team):
        assert str((await billing_row(platform, org_id))["stripe_customer_id"]).startswith("cus_")


async def test_checkout_refuses_bad_input_strangers_and_non_admins(
    services: Fleet, platform: Platform
) -> None:
    admin, _, _ = await personal_org(services)
    trainee, _, _ = await personal_org(services)
    stranger, _, stranger_token = await personal_org(services)
    team = await team_org(services, platform, admin=admin, others={trainee: "trainee"})
    trainee_token = await bearer_token(services, trainee, org_id=team)
    admin_token = await bearer_token(services, admin, org_id=team)

    forbidden = await checkout(services, team, trainee_token, plan="starter")
    hidden = await checkout(services, team, stranger_token, plan="starter")
    unknown_plan = await checkout(services, team, admin_token, plan="platinum")
    bad_interval = await checkout(services, team, admin_token, plan="starter", interval="week")
    async with httpx.AsyncClient(base_url=services["billing"].url, timeout=10) as client:
        no_token = await client.post(
            f"/v1/orgs/{team}/checkout", json={"plan": "starter", "interval": "month"}
        )
        portal = await client.post(f"/v1/orgs/{team}/portal", headers=bearer(admin_token))
        portal_forbidden = await client.post(f"/v1/orgs/{team}/portal", headers=bearer(trainee_token))
    assert (forbidden.status_code, forbidden.json()["error"]["code"]) == (403, "forbidden")
    assert (hidden.status_code, hidden.json()["error"]["code"]) == (404, "org_not_found")
    assert (unknown_plan.status_code, unknown_plan.json()["error"]["code"]) == (422, "unknown_plan")
    assert (bad_interval.status_code, bad_interval.json()["error"]["code"]) == (422, "validation_error")
    assert (no_token.status_code, no_token.json()["error"]["code"]) == (401, "invalid_token")
    assert portal.status_code == 200 and portal.json()["url"].startswith("https://")
    assert portal_forbidden.status_code == 403
    assert stranger  # a member of their own org only


async def test_buying_the_current_plan_again_is_a_conflict(services: Fleet) -> None:
    _, org_id, token = await personal_org(services)
    await post_stripe(
        services,
        stripe_event(
            "customer.subscription.created", subscription_object(org_id=org_id, plan="individual_pro")
        ),
    )
    again = await checkout(services, org_id, token, plan="individual_pro", interval="year")
    other = await checkout(services, org_id, token, plan="individual_ultra")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "already_on_plan")
    assert other.status_code == 200


# --- webhooks --------------------------------------------------------------------------------------


async def test_a_bad_signature_is_refused_and_nothing_is_stored(services: Fleet, platform: Platform) -> None:
    event = stripe_event("invoice.paid", invoice_object(subscription_id="sub_x"))
    wrong_secret = await post_stripe(services, event, secret="whsec_not_ours")
    missing = await post_stripe(services, event, signature="")
    old = json.dumps(event).encode()
    stale = await post_stripe(
        services,
        event,
        signature=sign_stripe_payload(old, secret=WEBHOOK_SECRET, timestamp=int(time.time()) - 600),
    )
    for response in (wrong_secret, missing, stale):
        assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_signature")
    stored = await count(
        platform, "billing", "SELECT count(*) FROM stripe_events WHERE event_id = $1", event["id"]
    )
    assert stored == 0


async def test_a_signed_body_that_is_no_stripe_event_is_a_400_and_nothing_is_stored(
    services: Fleet, platform: Platform
) -> None:
    _, org_id, _ = await personal_org(services)
    no_created = {"id": f"evt_{uuid.uuid4().hex}", "type": "invoice.paid", "data": {"object": {}}}
    broken = stripe_event("customer.subscription.created", {"object": "subscription", "id": "sub_1"})
    broken["data"]["object"] |= {
        "metadata": {"org_id": org_id},
        "items": {"data": ["price_individual_pro_month"]},
    }
    answers = [await post_stripe(services, event) for event in (no_created, broken)]
    for response in answers:
        assert (response.status_code, response.json()["error"]["code"]) == (400, "malformed_payload")
    for event in (no_created, broken):
        stored = await count(
            platform, "billing", "SELECT count(*) FROM stripe_events WHERE event_id = $1", event["id"]
        )
        assert stored == 0


async def test_unknown_event_types_are_ignored(services: Fleet) -> None:
    response = await post_stripe(
        services, stripe_event("charge.refunded", {"id": "ch_1", "object": "charge"})
    )
    assert response.status_code == 200 and response.json() == {"status": "ignored"}


async def test_a_personal_upgrade_reaches_entitlements_and_claims(
    services: Fleet, platform: Platform
) -> None:
    user_id, org_id, _ = await personal_org(services)
    subscription = subscription_object(org_id=org_id, plan="individual_pro", customer="cus_ada")
    completed = {
        "id": f"cs_{uuid.uuid4().hex[:14]}",
        "object": "checkout.session",
        "customer": "cus_ada",
        "subscription": subscription["id"],
        "client_reference_id": org_id,
        "metadata": {"org_id": org_id, "plan": "individual_pro"},
    }
    first = await post_stripe(services, stripe_event("checkout.session.completed", completed))
    second = await post_stripe(services, stripe_event("customer.subscription.created", subscription))
    assert [first.json()["status"], second.json()["status"]] == ["processed", "processed"]
    body = await entitlements(services, org_id)
    assert (body["plan"], body["status"], body["limits"]["sessions_per_month"]) == (
        "individual_pro",
        "active",
        100,
    )
    assert body["features"]["ai_scenario_generation"] is True
    claims = await eventually(
        lambda: complete_claims(services, user_id),
        until=lambda claims: claims["plan"] == "individual_pro",
        what="claims follow the upgrade",
    )
    assert claims["org_id"] == org_id
    row = await billing_row(platform, org_id)
    assert (row["stripe_customer_id"], row["stripe_subscription_id"]) == ("cus_ada", subscription["id"])


async def test_the_same_webhook_five_times_has_one_effect(services: Fleet, platform: Platform) -> None:
    _, org_id, _ = await personal_org(services)
    event = stripe_event(
        "customer.subscription.created", subscription_object(org_id=org_id, plan="individual_ultra")
    )
    statuses = [(await post_stripe(services, event)).json()["status"] for _ in range(5)]
    assert statuses == ["processed"] + ["duplicate"] * 4
    row = await billing_row(platform, org_id)
    assert (row["plan"], row["version"]) == ("individual_ultra", 2)
    announced = await count(
        platform,
        "billing",
        "SELECT count(*) FROM outbox WHERE key = $1 AND event_type = 'subscription.changed'",
        org_id,
    )
    assert announced == 2  # the start on individual_free, then the one upgrade


async def test_an_older_event_arriving_later_changes_nothing(services: Fleet, platform: Platform) -> None:
    _, org_id, _ = await personal_org(services)
    sub_id = f"sub_{uuid.uuid4().hex[:14]}"
    now = int(time.time())
    newer = stripe_event(
        "customer.subscription.updated",
        subscription_object(org_id=org_id, plan="individual_ultra", subscription_id=sub_id),
        created=now,
    )
    older = stripe_event(
        "customer.subscription.created",
        subscription_object(org_id=org_id, plan="individual_pro", subscription_id=sub_id),
        created=now - 60,
    )
    assert (await post_stripe(services, newer)).json()["status"] == "processed"
    assert (await post_stripe(services, older)).json()["status"] == "ignored"
    assert (await billing_row(platform, org_id))["plan"] == "individual_ultra"


def _lifecycle(org_id: str, sub_id: str, start: int) -> list[dict[str, Any]]:
    """One subscription's life: created (pro), updated (ultra, past due), updated (ultra, active,
    cancelling at period end), deleted — one second apart."""

    def state(plan: str, status: str, cancelling: bool = False) -> dict[str, Any]:
        return subscription_object(
            org_id=org_id, plan=plan, status=status, subscription_id=sub_id, cancel_at_period_end=cancelling
        )

    return [
        stripe_event("customer.subscription.created", state("individual_pro", "active"), created=start),
        stripe_event(
            "customer.subscription.updated", state("individual_ultra", "past_due"), created=start + 1
        ),
        stripe_event(
            "customer.subscription.updated", state("individual_ultra", "active", True), created=start + 2
        ),
        stripe_event(
            "customer.subscription.deleted", state("individual_ultra", "canceled"), created=start + 3
        ),
    ]


# The state each event leaves when it is the newest: (plan, status, cancel_at_period_end).
NEWEST_STATE = [
    ("individual_pro", "active", False),
    ("individual_ultra", "past_due", False),
    ("individual_ultra", "active", True),
    ("individual_free", "canceled", False),
]


@pytest.mark.parametrize("newest", range(4))
async def test_any_order_of_one_subscriptions_events_with_duplicates_ends_in_the_newest_state(
    services: Fleet, platform: Platform, newest: int
) -> None:
    """Property (exhaustive rather than sampled): every permutation of the first `newest + 1`
    events of a subscription's life, each with a random duplicate, ends in the newest's state."""
    rng = random.Random(newest)
    orders = list(itertools.permutations(range(newest + 1)))
    orgs = [(await personal_org(services))[1] for _ in orders]
    for org_id, order in zip(orgs, orders, strict=True):
        events = _lifecycle(org_id, f"sub_{uuid.uuid4().hex[:14]}", int(time.time()) - 100)[: newest + 1]
        sequence = [events[i] for i in order]
        sequence.insert(rng.randrange(len(sequence) + 1), rng.choice(sequence))
        for event in sequence:
            assert (await post_stripe(services, event)).status_code == 200
    for org_id, order in zip(orgs, orders, strict=True):
        row = await billing_row(platform, org_id)
        assert (row["plan"], row["status"], row["cancel_at_period_end"]) == NEWEST_STATE[newest], order


async def test_cancel_at_period_end_keeps_the_plan_until_the_period_ends(
    services: Fleet, platform: Platform
) -> None:
    _, org_id, _ = await personal_org(services)
    end = datetime.now(UTC) + timedelta(days=12)
    cancelling = subscription_object(
        org_id=org_id, plan="individual_pro", period_end=end, cancel_at_period_end=True
    )
    await post_stripe(services, stripe_event("customer.subscription.updated", cancelling))
    body = await entitlements(services, org_id)
    assert (body["plan"], body["cancel_at_period_end"]) == ("individual_pro", True)
    assert datetime.fromisoformat(body["current_period_end"]) == end.replace(microsecond=0)
    # The period ends (moved into the past here): the lapse job moves the org to its free plan.
    body = await end_period_now(
        services, platform, org_id, plan="individual_free", what="the cancelled period ended"
    )
    assert (body["status"], body["cancel_at_period_end"]) == ("canceled", False)


async def test_past_due_keeps_the_plan_for_the_grace_then_free_limits_until_paid(
    services: Fleet, platform: Platform
) -> None:
    _, org_id, _ = await personal_org(services)
    subscription = subscription_object(org_id=org_id, plan="individual_pro")
    await post_stripe(services, stripe_event("customer.subscription.created", subscription))
    failed = await post_stripe(
        services, stripe_event("invoice.payment_failed", invoice_object(subscription_id=subscription["id"]))
    )
    assert failed.json()["status"] == "processed"
    body = await entitlements(services, org_id)
    assert (body["plan"], body["status"], body["limits"]["sessions_per_month"]) == (
        "individual_pro",
        "past_due",
        100,
    )

    # Eight days later (the default grace is seven): the job applies the free limits.
    await backdate(
        platform,
        org_id,
        subscription_set="past_due_since = past_due_since - interval '8 days'",
        schedule_set="due_at = due_at - interval '8 days'",
    )
    body = await eventually(
        lambda: entitlements(services, org_id),
        until=lambda body: body["plan"] == "individual_free",
        what="the grace ended",
    )
    assert (body["status"], body["limits"]["sessions_per_month"]) == ("past_due", 10)

    paid = await post_stripe(
        services, stripe_event("invoice.paid", invoice_object(subscription_id=subscription["id"]))
    )
    assert paid.json()["status"] == "processed"
    body = await entitlements(services, org_id)
    assert (body["plan"], body["status"], body["limits"]["sessions_per_month"]) == (
        "individual_pro",
        "active",
        100,
    )


async def test_a_conversion_cancels_the_individual_subscription_and_its_end_changes_nothing(
    services: Fleet, platform: Platform
) -> None:
    user_id, org_id, _ = await personal_org(services)
    subscription = subscription_object(org_id=org_id, plan="individual_pro")
    await post_stripe(services, stripe_event("customer.subscription.created", subscription))
    await publish(
        platform,
        OrgConverted(
            org_id=org_id, name="Ada's Team", slug=f"ada-{org_id[:8]}", owner_user_id=user_id, plan="starter"
        ),
    )
    body = await eventually(
        lambda: entitlements(services, org_id),
        until=lambda body: body["plan"] == "starter",
        what="the conversion reached billing",
    )
    assert (body["kind"], body["status"]) == ("team", "trialing")
    ended = dict(subscription, status="canceled")
    answer = await post_stripe(services, stripe_event("customer.subscription.deleted", ended))
    assert answer.json()["status"] == "ignored"
    assert (await entitlements(services, org_id))["plan"] == "starter"
    await eventually(
        lambda: complete_claims(services, user_id),
        until=lambda claims: claims["plan"] == "starter",
        what="claims follow the conversion",
    )


async def test_a_trial_without_payment_ends_on_the_team_free_plan(
    services: Fleet, platform: Platform
) -> None:
    user_id, org_id, _ = await personal_org(services)
    await publish(
        platform,
        OrgConverted(
            org_id=org_id,
            name="Ada's Team",
            slug=f"ada-{org_id[:8]}",
            owner_user_id=user_id,
            plan="professional",
        ),
    )
    await eventually(
        lambda: entitlements(services, org_id),
        until=lambda body: body["plan"] == "professional",
        what="the conversion reached billing",
    )
    body = await end_period_now(services, platform, org_id, plan="free", what="the trial ended")
    assert (body["status"], body["current_period_end"], body["limits"]["seats"]) == ("active", None, 3)
