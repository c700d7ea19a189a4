"""Issue 15: Stripe checkout and portal sessions are throttled per org — past
BILLING_STRIPE_SESSIONS_PER_ORG_PER_MINUTE (10) an org's admin gets 429 `rate_limited` with
Retry-After, before Stripe is called; refused requests (a non-admin, a bad plan) spend nothing, and
another org keeps its own budget."""

from __future__ import annotations

from typing import Any

import httpx

from devstack.pytest_plugin import TEST_SERVICE_KEY
from devstack.services import Fleet
from devstack.testing import bearer, bearer_token, eventually, sign_up


async def personal_org(services: Fleet) -> tuple[str, dict[str, str]]:
    """A signed-up user's personal org, once billing knows its member; with their bearer headers."""
    user_id, claims = await sign_up(services)
    org_id = str(claims["org_id"])

    async def seats() -> Any:
        async with httpx.AsyncClient(base_url=services["billing"].url, timeout=10) as client:
            answer = await client.get(
                f"/v1/orgs/{org_id}/entitlements", headers={"X-Service-Key": TEST_SERVICE_KEY}
            )
        return answer.json().get("usage", {}).get("seats") if answer.status_code == 200 else None

    await eventually(seats, until=lambda used: used == 1, what="billing knows the member")
    return org_id, bearer(await bearer_token(services, user_id))


async def test_checkout_and_portal_sessions_are_throttled_per_org(services: Fleet) -> None:
    org_id, owner = await personal_org(services)
    other_org, other_owner = await personal_org(services)
    async with httpx.AsyncClient(base_url=services["billing"].url, timeout=30) as client:

        async def checkout(plan: str = "individual_pro", headers: dict[str, str] = owner) -> httpx.Response:
            return await client.post(
                f"/v1/orgs/{org_id}/checkout", json={"plan": plan, "interval": "month"}, headers=headers
            )

        async def portal() -> httpx.Response:
            return await client.post(f"/v1/orgs/{org_id}/portal", headers=owner)

        refused_first = [await checkout("starter") for _ in range(5)]  # plan_kind_mismatch: spends nothing
        allowed = [await checkout() for _ in range(5)] + [await portal() for _ in range(5)]
        over_checkout = await checkout()
        over_portal = await portal()
        elsewhere = await client.post(f"/v1/orgs/{other_org}/portal", headers=other_owner)

    assert {r.status_code for r in refused_first} == {422}
    assert [r.status_code for r in allowed] == [200] * 10, [r.text for r in allowed if r.status_code != 200]
    for over in (over_checkout, over_portal):
        assert (over.status_code, over.json()["error"]["code"]) == (429, "rate_limited")
        assert 1 <= int(over.headers["Retry-After"]) <= 60
    assert elsewhere.status_code == 200
