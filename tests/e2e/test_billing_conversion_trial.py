"""One conversion trial per person (issue 15: converting a personal org started a 14-day team
trial, repeatable with throwaway accounts). Through the real flow: Clerk signup webhooks,
workspace's `POST /v1/orgs/{org_id}/convert`, billing's entitlements."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from devstack.platform import Platform
from devstack.pytest_plugin import TEST_SERVICE_KEY
from devstack.services import Fleet
from devstack.testing import (
    bearer_token,
    call_service,
    complete_claims,
    count,
    delete_user,
    eventually,
    new_slug,
    new_user_id,
    post_auth_webhook,
    signup_delivery,
)


async def sign_up_with(
    fleet: Fleet, platform: Platform, email: str, *, verified: bool = True
) -> tuple[str, str]:
    """A new account with this address: its user id and its personal org, once billing knows
    the address (it reads `identity.users` on its own, beside `workspace.orgs`)."""
    user_id = new_user_id()
    delivery = signup_delivery(user_id=user_id, email=email, email_verified=verified)
    response = await post_auth_webhook(fleet, *delivery)
    assert response.status_code == 200, response.text
    claims = await complete_claims(fleet, user_id)
    await eventually(
        lambda: count(platform, "billing", "SELECT count(*) FROM user_addresses WHERE user_id = $1", user_id),
        until=lambda n: n == 1,
        what=f"billing knows {user_id}'s address",
    )
    return user_id, claims["org_id"]


async def convert(fleet: Fleet, user_id: str, org_id: str, plan: str = "starter") -> dict[str, Any]:
    """Convert through workspace, then billing's word on the org once it has moved it."""
    token = await bearer_token(fleet, user_id)
    body = {"name": "Throwaway Team", "slug": new_slug("trial"), "plan": plan}
    converted = await call_service(
        fleet, "workspace", "POST", f"/v1/orgs/{org_id}/convert", token=token, json=body
    )
    assert converted.status_code == 200, converted.text

    async def entitlements() -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=fleet["billing"].url, timeout=10) as client:
            response = await client.get(
                f"/v1/orgs/{org_id}/entitlements", headers={"X-Service-Key": TEST_SERVICE_KEY}
            )
        answer: dict[str, Any] = response.json()
        return answer

    return await eventually(
        entitlements, until=lambda body: body["kind"] == "team", what="billing converted it"
    )


async def test_a_second_account_with_the_same_address_gets_no_second_trial(
    services: Fleet, platform: Platform
) -> None:
    email = f"trial-{uuid.uuid4().hex[:12]}@example.com"
    first_user, first_org = await sign_up_with(services, platform, email)
    first = await convert(services, first_user, first_org, plan="professional")
    await delete_user(services, first_user)
    # The same person again: a new account (a new user id) with the same address, any case.
    second_user, second_org = await sign_up_with(services, platform, f"  {email.upper()}")
    second = await convert(services, second_user, second_org, plan="professional")

    assert (first["plan"], first["status"]) == ("professional", "trialing")
    assert first["current_period_end"] is not None
    assert (second["plan"], second["status"], second["current_period_end"]) == ("free", "active", None)


async def test_another_person_still_gets_their_trial(services: Fleet, platform: Platform) -> None:
    someone, their_org = await sign_up_with(services, platform, f"a-{uuid.uuid4().hex[:12]}@example.com")
    other, other_org = await sign_up_with(services, platform, f"b-{uuid.uuid4().hex[:12]}@example.com")

    answers = [await convert(services, someone, their_org), await convert(services, other, other_org)]

    assert [(body["plan"], body["status"]) for body in answers] == [("starter", "trialing")] * 2


async def test_an_unverified_address_gets_no_trial_and_burns_nobody_elses(
    services: Fleet, platform: Platform
) -> None:
    email = f"victim-{uuid.uuid4().hex[:12]}@example.com"
    # Someone signs up with an address they do not own (never verified) and converts.
    squatter, squatter_org = await sign_up_with(services, platform, email, verified=False)
    squatted = await convert(services, squatter, squatter_org, plan="professional")
    # The address's owner, verified, still gets the one trial that is theirs.
    owner, owner_org = await sign_up_with(services, platform, email)
    owned = await convert(services, owner, owner_org, plan="professional")

    assert (squatted["plan"], squatted["status"], squatted["current_period_end"]) == ("free", "active", None)
    assert (owned["plan"], owned["status"]) == ("professional", "trialing")
