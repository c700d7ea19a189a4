"""Row-level security on billing's subscriptions: one org per transaction, none without one."""

from __future__ import annotations

import asyncpg
import httpx

from devstack.platform import Platform
from devstack.pytest_plugin import TEST_SERVICE_KEY
from devstack.services import Fleet
from devstack.testing import service_db, sign_up


async def signed_up_org(fleet: Fleet) -> str:
    _, claims = await sign_up(fleet)
    return str(claims["org_id"])


async def test_subscriptions_are_visible_to_their_own_org_only(services: Fleet, platform: Platform) -> None:
    org_a, _ = await signed_up_org(services), await signed_up_org(services)
    connection = await asyncpg.connect(service_db(platform, "billing"))
    try:
        await connection.execute("SET ROLE billing_app")
        assert await connection.fetchval("SELECT count(*) FROM subscriptions") == 0
        async with connection.transaction():
            await connection.execute("SELECT set_config('app.org_id', $1, true)", org_a)
            rows = await connection.fetch("SELECT org_id FROM subscriptions")
    finally:
        await connection.close()
    assert [row["org_id"] for row in rows] == [org_a]


async def test_the_subscription_api_answers_for_the_org_it_names(services: Fleet) -> None:
    org_id = await signed_up_org(services)
    async with httpx.AsyncClient(base_url=services["billing"].url) as client:
        response = await client.get(
            f"/v1/orgs/{org_id}/subscription", headers={"X-Service-Key": TEST_SERVICE_KEY}
        )
    assert response.status_code == 200
    body = response.json()
    assert (body["plan"], body["status"], body["version"]) == ("individual_free", "active", 1)
    assert body["limits"] == {"seats": 1, "sessions_per_month": 10, "scenarios": 3, "ai_generation": False}
    assert body["features"]["team_management"] is False
