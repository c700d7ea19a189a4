"""Invitation links through the real service: limits hold under concurrency, every refusal is its
own outcome, and nothing is counted for a refused redemption."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import datetime
from typing import Any

import httpx

from devstack.platform import Platform
from devstack.services import Fleet
from devstack.testing import bearer, bearer_token, count, eventually, fetch, service_db, sign_up


async def users_with_tokens(services: Fleet, n: int) -> list[tuple[str, dict[str, str]]]:
    """`n` signed-up users (personal workspace each) and their bearer headers."""
    limit = asyncio.Semaphore(25)

    async def one() -> tuple[str, dict[str, str]]:
        async with limit:
            user_id, _ = await sign_up(services)
            return user_id, bearer(await bearer_token(services, user_id))

    return await asyncio.gather(*(one() for _ in range(n)))


async def create_link(client: httpx.AsyncClient, team: Any, **body: Any) -> dict[str, Any]:
    response = await client.post(
        f"/v1/orgs/{team.org_id}/invitation-links",
        json={"role": "trainee", **body},
        headers=team.admin_headers,
    )
    assert response.status_code == 201, response.text
    link: dict[str, Any] = response.json()
    return link


async def current_uses(platform: Platform, slug: str) -> int:
    return await count(platform, "invites", "SELECT current_uses FROM invitation_links WHERE slug = $1", slug)


async def workspace_members(platform: Platform, org_id: str) -> int:
    return await count(
        platform, "workspace", "SELECT count(*) FROM memberships WHERE org_id = $1", uuid.UUID(org_id)
    )


async def test_200_concurrent_redemptions_of_a_10_use_link_make_exactly_10_members(
    services: Fleet, platform: Platform, team_org: Any, invites_client: httpx.AsyncClient
) -> None:
    team = await team_org(seats=50, plan="professional")
    link = await create_link(invites_client, team, role="tech", max_uses=10)
    users = await users_with_tokens(services, 200)

    answers = await asyncio.gather(
        *(invites_client.post(f"/v1/invitation-links/{link['slug']}/redeem", headers=h) for _, h in users)
    )

    statuses = Counter((a.status_code, a.json().get("error", {}).get("code")) for a in answers)
    assert statuses == {(200, None): 10, (410, "invitation_exhausted"): 190}, statuses
    joined = [a.json() for a in answers if a.status_code == 200]
    assert all(j == {"org_id": team.org_id, "role": "tech", "status": "joined"} for j in joined)
    assert await current_uses(platform, link["slug"]) == 10
    # The admin plus ten: workspace added exactly the accepted memberships, with the link's role.
    await eventually(
        lambda: workspace_members(platform, team.org_id), until=lambda n: n == 11, what="11 memberships"
    )
    roles = await fetch(
        service_db(platform, "workspace"),
        "SELECT role, count(*) FROM memberships WHERE org_id = $1 GROUP BY role",
        uuid.UUID(team.org_id),
    )
    assert {r["role"]: r["count"] for r in roles} == {"admin": 1, "tech": 10}


async def test_three_seats_and_ten_concurrent_joins_through_several_links_never_exceed_three(
    services: Fleet, platform: Platform, team_org: Any, invites_client: httpx.AsyncClient
) -> None:
    team = await team_org(seats=3, plan="free")
    links = [await create_link(invites_client, team, max_uses=5) for _ in range(3)]
    users = await users_with_tokens(services, 10)

    answers = await asyncio.gather(
        *(
            invites_client.post(f"/v1/invitation-links/{links[i % 3]['slug']}/redeem", headers=headers)
            for i, (_, headers) in enumerate(users)
        )
    )

    statuses = Counter((a.status_code, a.json().get("error", {}).get("code")) for a in answers)
    # The admin holds one seat: two joins fit.
    assert statuses == {(200, None): 2, (409, "seat_limit_reached"): 8}, statuses
    assert sum([await current_uses(platform, link["slug"]) for link in links]) == 2
    await eventually(
        lambda: workspace_members(platform, team.org_id), until=lambda n: n == 3, what="3 members"
    )
    # Full: no new link either.
    refused = await invites_client.post(
        f"/v1/orgs/{team.org_id}/invitation-links", json={"role": "trainee"}, headers=team.admin_headers
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "seat_limit_reached")
    assert await workspace_members(platform, team.org_id) == 3


async def test_each_refusal_is_its_own_outcome_and_counts_no_use(
    services: Fleet, platform: Platform, team_org: Any, invites_client: httpx.AsyncClient
) -> None:
    team = await team_org()
    [(_, guest)] = await users_with_tokens(services, 1)
    expired = await create_link(invites_client, team, max_uses=3)
    await fetch(
        service_db(platform, "invites"),
        "UPDATE invitation_links SET expires_at = now() - interval '1 second' WHERE slug = $1",
        expired["slug"],
    )
    revoked = await create_link(invites_client, team, max_uses=3)
    gone = await invites_client.delete(
        f"/v1/orgs/{team.org_id}/invitation-links/{revoked['slug']}", headers=team.admin_headers
    )
    assert gone.status_code == 204
    exhausted = await create_link(invites_client, team, max_uses=1)
    [(_, first)] = await users_with_tokens(services, 1)
    used = await invites_client.post(f"/v1/invitation-links/{exhausted['slug']}/redeem", headers=first)
    assert used.status_code == 200
    open_link = await create_link(invites_client, team, max_uses=3, role="manager")

    async def redeem(slug: str, headers: dict[str, str]) -> tuple[int, str]:
        answer = await invites_client.post(f"/v1/invitation-links/{slug}/redeem", headers=headers)
        return answer.status_code, answer.json()["error"]["code"]

    assert await redeem(expired["slug"], guest) == (410, "invitation_expired")
    assert await redeem(revoked["slug"], guest) == (410, "invitation_revoked")
    assert await redeem(exhausted["slug"], guest) == (410, "invitation_exhausted")
    # A link never changes the role of someone already in the org.
    assert await redeem(open_link["slug"], team.admin_headers) == (409, "already_member")
    assert await redeem("no-such-slug-" + uuid.uuid4().hex, guest) == (404, "invitation_not_found")
    assert [
        await current_uses(platform, link["slug"]) for link in (expired, revoked, exhausted, open_link)
    ] == [
        0,
        0,
        1,
        0,
    ]
    admin_role = await fetch(
        service_db(platform, "invites"),
        "SELECT role FROM member_views WHERE org_id = $1 AND user_id = $2",
        uuid.UUID(team.org_id),
        team.admin_id,
    )
    assert admin_role[0]["role"] == "admin"

    # The public routes say the same, consuming nothing.
    for link, code in ((expired, "invitation_expired"), (revoked, "invitation_revoked")):
        answer = await invites_client.get(f"/v1/invitation-links/{link['slug']}")
        assert (answer.status_code, answer.json()["error"]["code"]) == (410, code)
    valid = (await invites_client.get(f"/v1/invitation-links/{open_link['slug']}")).json()
    assert (valid["valid"], valid["org_name"], valid["role"]) == (True, team.name, "manager")
    assert datetime.fromisoformat(valid["expires_at"]) == datetime.fromisoformat(open_link["expires_at"])
    redirect = await invites_client.get(f"/invite/{open_link['slug']}")
    assert redirect.status_code == 302
    assert redirect.headers["location"].endswith(f"?invitation={open_link['slug']}")
    assert await current_uses(platform, open_link["slug"]) == 0
    missing = await invites_client.get("/invite/unknown-" + uuid.uuid4().hex)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "invitation_not_found")
