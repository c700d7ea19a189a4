"""Team orgs and members over HTTP (API.md workspace section), through the running services."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Any

import httpx

from devstack.pytest_plugin import TEST_SERVICE_KEY, TEST_TOKEN_MINT_KEY
from devstack.services import Fleet
from devstack.testing import bearer_token, call_service, eventually, new_slug, sign_up
from shared.db.session import Database
from workspace.models import Role
from workspace.service.members import add_member


def call(fleet: Fleet, method: str, path: str, token: str | None, **kwargs: Any) -> Awaitable[httpx.Response]:
    return call_service(fleet, "workspace", method, path, token=token, **kwargs)


async def user_with_token(fleet: Fleet) -> tuple[str, str]:
    user_id, _ = await sign_up(fleet)
    return user_id, await bearer_token(fleet, user_id)


async def test_creating_a_team_org_makes_the_creator_admin_and_billing_starts_it_on_free(
    services: Fleet,
) -> None:
    user_id, token = await user_with_token(services)
    slug = new_slug()

    created = await call(services, "POST", "/v1/orgs", token, json={"name": "Closers", "slug": slug})

    assert created.status_code == 201, created.text
    org = created.json()
    assert (org["name"], org["slug"], org["is_personal"], org["status"]) == ("Closers", slug, False, "active")
    assert org["settings"] == {"show_team_features": True, "show_leaderboard": True}
    members = (await call(services, "GET", f"/v1/orgs/{org['id']}/members", token)).json()["members"]
    assert [(m["user_id"], m["role"], m["email"]) for m in members] == [
        (user_id, "admin", f"{user_id}@example.com")
    ]

    async def plan_billing_reports() -> str:
        # The org's version in workspace's projection changes only through billing's event.
        context = await call(services, "GET", "/v1/me/context", token, params={"org_id": org["id"]})
        return str(context.json()["plan"]) + str(context.json()["limits"])

    reported = await eventually(plan_billing_reports, until=lambda p: p.startswith("free"), what="team plan")
    assert "'seats': 3" in reported


async def test_bad_org_input_is_a_clear_4xx(services: Fleet) -> None:
    _, token = await user_with_token(services)
    slug = new_slug()
    assert (
        await call(services, "POST", "/v1/orgs", token, json={"name": "A", "slug": slug})
    ).status_code == 201
    taken = await call(services, "POST", "/v1/orgs", token, json={"name": "B", "slug": slug})
    reserved = await call(services, "POST", "/v1/orgs", token, json={"name": "C", "slug": "personal-mine"})
    bad_slug = await call(services, "POST", "/v1/orgs", token, json={"name": "D", "slug": "No Way"})
    blank_name = await call(services, "POST", "/v1/orgs", token, json={"name": "  ", "slug": new_slug()})
    anonymous = await call(services, "POST", "/v1/orgs", None, json={"name": "E", "slug": new_slug()})
    forged = await call(services, "POST", "/v1/orgs", "not.a.token", json={"name": "F", "slug": new_slug()})

    assert (taken.status_code, taken.json()["error"]["code"]) == (409, "slug_taken")
    for refused, field in ((reserved, "slug"), (bad_slug, "slug"), (blank_name, "name")):
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "validation_error"
        assert f"body.{field}" in refused.json()["error"]["message"]
    for unauthenticated in (anonymous, forged):
        assert (unauthenticated.status_code, unauthenticated.json()["error"]["code"]) == (
            401,
            "invalid_token",
        )


async def test_members_roles_and_the_last_admin_over_http(services: Fleet, workspace_db: Database) -> None:
    admin, admin_token = await user_with_token(services)
    member, member_token = await user_with_token(services)
    stranger, stranger_token = await user_with_token(services)
    org_id = (
        await call(services, "POST", "/v1/orgs", admin_token, json={"name": "T", "slug": new_slug()})
    ).json()["id"]
    async with workspace_db.unit_of_work() as session:
        await add_member(session, org_id=uuid.UUID(org_id), user_id=member, role=Role.TRAINEE)
    members_path = f"/v1/orgs/{org_id}/members"

    hidden = await call(services, "GET", f"/v1/orgs/{org_id}", stranger_token)
    hidden_members = await call(services, "GET", members_path, stranger_token)
    seen = await call(services, "GET", f"/v1/orgs/{org_id}", member_token)
    by_service = await call(
        services, "GET", f"/v1/orgs/{org_id}", None, headers={"X-Service-Key": TEST_SERVICE_KEY}
    )
    not_admin = await call(
        services, "PATCH", f"{members_path}/{admin}", member_token, json={"role": "trainee"}
    )
    last_admin = await call(
        services, "PATCH", f"{members_path}/{admin}", admin_token, json={"role": "manager"}
    )
    bad_role = await call(services, "PATCH", f"{members_path}/{member}", admin_token, json={"role": "owner"})
    no_such_member = await call(
        services, "PATCH", f"{members_path}/{stranger}", admin_token, json={"role": "hr"}
    )
    promoted = await call(
        services, "PATCH", f"{members_path}/{member}", admin_token, json={"role": "manager"}
    )

    assert (hidden.status_code, hidden.json()["error"]["code"]) == (404, "org_not_found")
    assert (hidden_members.status_code, hidden_members.json()["error"]["code"]) == (404, "org_not_found")
    assert seen.status_code == 200 and by_service.status_code == 200
    assert (not_admin.status_code, not_admin.json()["error"]["code"]) == (403, "forbidden")
    assert (last_admin.status_code, last_admin.json()["error"]["code"]) == (409, "last_admin")
    assert bad_role.status_code == 422
    assert (no_such_member.status_code, no_such_member.json()["error"]["code"]) == (404, "member_not_found")
    assert promoted.status_code == 200 and promoted.json()["role"] == "manager"

    last_leaves = await call(services, "DELETE", f"{members_path}/{admin}", admin_token)
    member_leaves = await call(services, "DELETE", f"{members_path}/{member}", member_token)
    assert (last_leaves.status_code, last_leaves.json()["error"]["code"]) == (409, "last_admin")
    assert member_leaves.status_code == 204
    listed = (await call(services, "GET", members_path, admin_token)).json()["members"]
    assert [(m["user_id"], m["role"]) for m in listed] == [(admin, "admin")]
    gone = await call(services, "GET", f"/v1/orgs/{org_id}", member_token)
    assert gone.status_code == 404


async def test_claims_follow_a_role_change(services: Fleet, workspace_db: Database) -> None:
    _, admin_token = await user_with_token(services)
    member, _ = await user_with_token(services)
    org_id = (
        await call(services, "POST", "/v1/orgs", admin_token, json={"name": "T", "slug": new_slug()})
    ).json()["id"]
    async with workspace_db.unit_of_work() as session:
        await add_member(session, org_id=uuid.UUID(org_id), user_id=member, role=Role.TRAINEE)
    response = await call(
        services, "PATCH", f"/v1/orgs/{org_id}/members/{member}", admin_token, json={"role": "hr"}
    )
    assert response.status_code == 200

    async def token_role() -> Any:
        async with httpx.AsyncClient(base_url=services["identity"].url, timeout=10) as client:
            answer = await client.post(
                "/v1/tokens",
                json={"user_id": member, "org_id": org_id},
                headers={"X-Service-Key": TEST_TOKEN_MINT_KEY},
            )
        return answer.json().get("claims", {}).get("org_role")

    assert (
        await eventually(token_role, until=lambda role: role == "hr", what="the new role in a fresh token")
        == "hr"
    )
