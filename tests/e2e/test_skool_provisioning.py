"""Flow 3 (DESIGN.md 4.3, API.md skool-ingest) through the real services, broker, databases and
SMTP sink: a signed Skool delivery → skool-ingest → workspace (which org) → billing (business)."""

from __future__ import annotations

import json
import time
import uuid
from email.message import Message
from typing import Any
from urllib.parse import quote

import httpx

from devstack.platform import Platform
from devstack.pytest_plugin import TEST_AUTH_SECRET, TEST_ENV, TEST_SERVICE_KEY
from devstack.services import Fleet
from devstack.testing import (
    bearer,
    bearer_token,
    complete_claims,
    count,
    eventually,
    mails_to,
    post_auth_webhook,
    sign_up,
    wait_consumed,
)
from devstack.webhooks import clerk_user_created, new_user_id, signed_delivery
from skool_ingest.signature import HEADER, sign

SECRET = TEST_ENV["SKOOL_INGEST_WEBHOOK_SECRET"]
SERVICE = {"X-Service-Key": TEST_SERVICE_KEY}


def skool_delivery(*, email: str, event: str = "member.subscribed", **fields: Any) -> dict[str, Any]:
    return {
        "event": event,
        "email": email,
        "first_name": "Sam",
        "community_id": "closers-club",
        "community_name": "Closers Club",
        "occurred_at": "2026-11-01T09:00:00Z",
        **fields,
    }


async def post_skool(fleet: Fleet, body: dict[str, Any]) -> str:
    raw = json.dumps(body).encode()
    headers = {HEADER: sign(secret=SECRET, timestamp=int(time.time()), body=raw)}
    async with httpx.AsyncClient(base_url=fleet["skool-ingest"].url, timeout=10) as client:
        response = await client.post("/v1/webhooks/skool", content=raw, headers=headers)
    assert response.status_code == 202, response.text
    status: str = response.json()["status"]
    return status


async def workspaces(fleet: Fleet, user_id: str, *, until_count: int) -> dict[str, Any]:
    """`GET /v1/me/workspaces` once it lists `until_count` workspaces and billing has spoken for each."""

    async def probe() -> dict[str, Any]:
        token = await bearer_token(fleet, user_id)
        async with httpx.AsyncClient(base_url=fleet["workspace"].url, timeout=10) as client:
            body: dict[str, Any] = (await client.get("/v1/me/workspaces", headers=bearer(token))).json()
        return body

    return await eventually(
        probe,
        until=lambda body: len(body.get("workspaces", [])) == until_count,
        what=f"{until_count} workspaces of {user_id}",
    )


async def plan_of(fleet: Fleet, org_id: str) -> str:
    async with httpx.AsyncClient(base_url=fleet["billing"].url, timeout=10) as client:
        response = await client.get(f"/v1/orgs/{org_id}/entitlements", headers=SERVICE)
    plan: str = response.json().get("plan", "") if response.status_code == 200 else ""
    return plan


async def wait_plan(fleet: Fleet, org_id: str, plan: str) -> None:
    await eventually(lambda: plan_of(fleet, org_id), until=lambda p: p == plan, what=f"{org_id} on {plan}")


async def skool_org_of(platform: Platform, fleet: Fleet, user_id: str) -> str:
    """The team org the user administers, once workspace has made it."""
    body = await workspaces(fleet, user_id, until_count=2)
    [team] = [w for w in body["workspaces"] if not w["is_personal"]]
    org_id: str = team["org_id"]
    return org_id


async def all_consumed(platform: Platform) -> None:
    """Every consumer of the Skool chain has caught up (so a late, wrong effect would show)."""
    bootstrap = platform.kafka_bootstrap
    await wait_consumed(bootstrap, group="workspace", topic="skool.subscriptions")
    await wait_consumed(bootstrap, group="skool-ingest", topic="skool.subscriptions")
    await wait_consumed(bootstrap, group="billing", topic="workspace.orgs")
    await wait_consumed(bootstrap, group="workspace", topic="billing.subscriptions")


async def test_an_existing_individual_user_gets_a_business_team_org_beside_their_workspace(
    services: Fleet, platform: Platform
) -> None:
    user_id, claims = await sign_up(services)
    address = f"{user_id}@example.com"
    await wait_consumed(platform.kafka_bootstrap, group="skool-ingest", topic="identity.users")

    assert await post_skool(services, skool_delivery(email=address.upper(), first_name="Rae")) == "accepted"

    body = await workspaces(services, user_id, until_count=2)
    assert body["show_switcher"] is True
    personal = next(w for w in body["workspaces"] if w["is_personal"])
    team = next(w for w in body["workspaces"] if not w["is_personal"])
    assert str(personal["org_id"]) == claims["org_id"]
    assert (personal["role"], personal["plan"]) == ("trainee", "individual_free")
    assert (team["name"], team["role"]) == ("Rae's Team", "admin")
    await wait_plan(services, team["org_id"], "business")
    await all_consumed(platform)
    assert mails_to(platform, address) == []  # an account already: no welcome email
    assert (await workspaces(services, user_id, until_count=2))["workspaces"][0]["plan"] == "individual_free"


async def test_the_oldest_team_org_an_admin_has_moves_to_business(
    services: Fleet, platform: Platform
) -> None:
    user_id, _ = await sign_up(services)
    token = await bearer_token(services, user_id)
    org_ids = []
    async with httpx.AsyncClient(base_url=services["workspace"].url, timeout=10) as client:
        for name in ("First", "Second"):
            slug = f"{name.lower()}-{uuid.uuid4().hex[:8]}"
            created = await client.post("/v1/orgs", json={"name": name, "slug": slug}, headers=bearer(token))
            assert created.status_code == 201, created.text
            org_ids.append(created.json()["id"])
    await wait_plan(services, org_ids[1], "free")

    await post_skool(services, skool_delivery(email=f"{user_id}@example.com"))

    await wait_plan(services, org_ids[0], "business")
    await all_consumed(platform)
    assert await plan_of(services, org_ids[1]) == "free"
    assert len((await workspaces(services, user_id, until_count=3))["workspaces"]) == 3  # no new org


async def test_a_new_email_gets_one_welcome_email_then_signs_up_into_a_business_org(
    services: Fleet, platform: Platform
) -> None:
    address = f"new-{uuid.uuid4().hex[:10]}@example.com"
    with_id = skool_delivery(email=address, event_id=f"evt_{uuid.uuid4().hex}")
    without_id = {k: v for k, v in with_id.items() if k != "event_id"}
    # The same delivery five times with its event_id, then five times without: one effect.
    statuses = [await post_skool(services, with_id) for _ in range(5)]
    statuses += [await post_skool(services, without_id) for _ in range(5)]
    assert statuses == ["accepted"] + ["duplicate"] * 9

    mails = await eventually(
        lambda: _mails(platform, address), until=lambda found: len(found) >= 1, what=f"welcome to {address}"
    )
    body = mails[0].get_payload(decode=True)
    assert isinstance(body, bytes)
    assert f"?email={quote(address)}" in body.decode()

    user_id = new_user_id()
    payload = clerk_user_created(user_id=user_id, email=address, first_name="Noor")
    raw, headers = signed_delivery(payload, secret=TEST_AUTH_SECRET)
    assert (await post_auth_webhook(services, raw, headers)).status_code == 200
    claims = await complete_claims(services, user_id)

    assert (claims["plan"], claims["org_role"], claims["is_personal_org"]) == ("business", "admin", False)
    listed = await workspaces(services, user_id, until_count=1)
    assert [(w["name"], w["role"], w["plan"]) for w in listed["workspaces"]] == [
        ("Noor's Team", "admin", "business")
    ]
    assert listed["show_switcher"] is False
    assert (
        await count(platform, "workspace", "SELECT count(*) FROM orgs WHERE personal_user_id = $1", user_id)
        == 0
    )
    await all_consumed(platform)
    assert len(mails_to(platform, address)) == 1


async def _mails(platform: Platform, address: str) -> list[Message]:
    return mails_to(platform, address)


async def test_subscribed_then_cancelled_in_either_order_ends_on_the_right_plan(
    services: Fleet, platform: Platform
) -> None:
    in_order, _ = await sign_up(services)
    reversed_, _ = await sign_up(services)
    start = {"occurred_at": "2026-11-01T09:00:00Z"}
    renewal = {"occurred_at": "2026-11-15T09:00:00Z"}
    cancel = {"event": "member.cancelled", "occurred_at": "2026-11-20T09:00:00Z"}
    resubscribe = {"occurred_at": "2026-11-25T09:00:00Z"}
    orgs = {}
    for user_id in (in_order, reversed_):
        await post_skool(services, skool_delivery(email=f"{user_id}@example.com", **start))
        orgs[user_id] = await skool_org_of(platform, services, user_id)
        await wait_plan(services, orgs[user_id], "business")

    # In order: renewed, then cancelled (no period end: at once) → free.
    for fields in (renewal, cancel):
        await post_skool(services, skool_delivery(email=f"{in_order}@example.com", **fields))
    # Reversed: the cancellation arrives before the older renewal → still free.
    for fields in (cancel, renewal):
        await post_skool(services, skool_delivery(email=f"{reversed_}@example.com", **fields))
    await wait_plan(services, orgs[in_order], "free")
    await wait_plan(services, orgs[reversed_], "free")
    await all_consumed(platform)
    assert await plan_of(services, orgs[reversed_]) == "free"

    # A resubscription, then a late copy of an older cancellation → business stays.
    late_cancel = {"event": "member.cancelled", "occurred_at": "2026-11-22T09:00:00Z"}
    for fields in (resubscribe, late_cancel):
        await post_skool(services, skool_delivery(email=f"{reversed_}@example.com", **fields))
    await wait_plan(services, orgs[reversed_], "business")
    await all_consumed(platform)
    assert await plan_of(services, orgs[reversed_]) == "business"
    assert await plan_of(services, orgs[in_order]) == "free"


async def test_a_cancellation_with_a_period_end_keeps_business_until_then(
    services: Fleet, platform: Platform
) -> None:
    user_id, _ = await sign_up(services)
    address = f"{user_id}@example.com"
    await post_skool(services, skool_delivery(email=address, occurred_at="2026-11-01T09:00:00Z"))
    org_id = await skool_org_of(platform, services, user_id)
    await wait_plan(services, org_id, "business")

    period_end = "2099-01-01T00:00:00Z"
    cancel = {"event": "member.cancelled", "occurred_at": "2026-11-20T09:00:00Z", "period_end": period_end}
    await post_skool(services, skool_delivery(email=address, **cancel))

    async def billing_view() -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=services["billing"].url, timeout=10) as client:
            body: dict[str, Any] = (
                await client.get(f"/v1/orgs/{org_id}/entitlements", headers=SERVICE)
            ).json()
        return body

    body = await eventually(
        billing_view, until=lambda b: b["cancel_at_period_end"], what="cancel at period end"
    )
    assert body["plan"] == "business"
    assert body["current_period_end"].startswith("2099-01-01")


async def test_an_entitlement_cancelled_before_the_signup_gives_a_personal_workspace(
    services: Fleet, platform: Platform
) -> None:
    address = f"gone-{uuid.uuid4().hex[:10]}@example.com"
    cancel = {"event": "member.cancelled", "occurred_at": "2026-11-02T09:00:00Z"}
    # The cancellation first, then the older subscription: nothing is left waiting, no email.
    await post_skool(services, skool_delivery(email=address, **cancel))
    await post_skool(services, skool_delivery(email=address, occurred_at="2026-11-01T09:00:00Z"))
    await all_consumed(platform)
    assert mails_to(platform, address) == []

    user_id = new_user_id()
    raw, headers = signed_delivery(
        clerk_user_created(user_id=user_id, email=address, first_name="Lu"), secret=TEST_AUTH_SECRET
    )
    assert (await post_auth_webhook(services, raw, headers)).status_code == 200
    claims = await complete_claims(services, user_id)
    assert (claims["plan"], claims["is_personal_org"]) == ("individual_free", True)
