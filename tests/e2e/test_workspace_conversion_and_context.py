"""Personal → team conversion end to end through Kafka, and the context and switcher, over HTTP."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import httpx
import jwt

from devstack.services import Fleet
from devstack.testing import (
    bearer_token,
    call_service,
    eventually,
    new_slug,
    read_claims,
    request_token,
    sign_up,
)

PERSONAL_NAVIGATION = ["/dashboard", "/training", "/scenarios", "/analytics", "/billing", "/settings"]
ADMIN_NAVIGATION = [
    "/dashboard",
    "/training",
    "/scenarios",
    "/analytics",
    "/assignments",
    "/leaderboard",
    "/team",
    "/admin/users",
    "/billing",
    "/settings",
]


def call(fleet: Fleet, method: str, path: str, token: str, **kwargs: Any) -> Awaitable[httpx.Response]:
    return call_service(fleet, "workspace", method, path, token=token, **kwargs)


async def test_conversion_reaches_claims_and_a_fresh_token(services: Fleet) -> None:
    user_id, claims = await sign_up(services)
    org_id = claims["org_id"]
    token = await bearer_token(services, user_id)
    slug = new_slug()
    body = {"name": "Acme Sales", "slug": slug}

    converted = await call(
        services, "POST", f"/v1/orgs/{org_id}/convert", token, json=body, headers={"Idempotency-Key": "c-1"}
    )
    again = await call(
        services, "POST", f"/v1/orgs/{org_id}/convert", token, json=body, headers={"Idempotency-Key": "c-1"}
    )

    assert converted.status_code == 200, converted.text
    org = converted.json()
    assert (org["id"], org["name"], org["slug"], org["is_personal"], org["plan"]) == (
        org_id,
        "Acme Sales",
        slug,
        False,
        "starter",
    )
    assert org["settings"] == {"show_team_features": True, "show_leaderboard": True}
    assert (again.status_code, again.json()) == (200, org)
    after = await eventually(
        lambda: read_claims(services, user_id),
        until=lambda c: c.get("org_role") == "admin" and c.get("is_personal_org") is False,
        what="claims of the converted org",
    )
    assert after["org_id"] == org_id
    fresh = (await request_token(services, user_id)).json()["access_token"]
    payload = jwt.decode(fresh, options={"verify_signature": False})
    assert (payload["org_id"], payload["org_role"], payload["is_personal_org"]) == (org_id, "admin", False)
    # The context now draws a team admin's workspace.
    context = (await call(services, "GET", "/v1/me/context", fresh)).json()
    assert (context["role"], context["is_personal"]) == ("admin", False)
    assert [item["url"] for item in context["navigation"]] == ADMIN_NAVIGATION


async def test_conversion_is_refused_for_a_team_org_another_users_org_or_an_individual_plan(
    services: Fleet,
) -> None:
    owner, owner_claims = await sign_up(services)
    other, other_claims = await sign_up(services)
    token = await bearer_token(services, owner)
    team = (await call(services, "POST", "/v1/orgs", token, json={"name": "T", "slug": new_slug()})).json()[
        "id"
    ]
    body = {"name": "X", "slug": new_slug()}

    of_team = await call(services, "POST", f"/v1/orgs/{team}/convert", token, json=body)
    of_other = await call(services, "POST", f"/v1/orgs/{other_claims['org_id']}/convert", token, json=body)
    individual = await call(
        services,
        "POST",
        f"/v1/orgs/{owner_claims['org_id']}/convert",
        token,
        json={**body, "plan": "individual_pro"},
    )
    reserved = await call(
        services,
        "POST",
        f"/v1/orgs/{owner_claims['org_id']}/convert",
        token,
        json={**body, "slug": "personal-x"},
    )

    assert (of_team.status_code, of_team.json()["error"]["code"]) == (409, "not_personal")
    assert (of_other.status_code, of_other.json()["error"]["code"]) == (404, "org_not_found")
    assert (individual.status_code, individual.json()["error"]["code"]) == (422, "plan_kind_mismatch")
    assert reserved.status_code == 422 and "body.slug" in reserved.json()["error"]["message"]
    # Nothing was half-applied: both personal orgs are still personal.
    for user_id, org_id in ((owner, owner_claims["org_id"]), (other, other_claims["org_id"])):
        user_token = await bearer_token(services, user_id)
        assert (await call(services, "GET", f"/v1/orgs/{org_id}", user_token)).json()["is_personal"] is True


async def test_context_for_a_personal_user_and_the_switcher_after_a_second_workspace(services: Fleet) -> None:
    user_id, claims = await sign_up(services)
    token = await bearer_token(services, user_id)

    context = await call(services, "GET", "/v1/me/context", token)
    before = await call(services, "GET", "/v1/me/workspaces", token)

    assert context.status_code == 200, context.text
    body = context.json()
    assert (body["user_id"], body["org"]["id"], body["role"], body["is_personal"]) == (
        user_id,
        claims["org_id"],
        "trainee",
        True,
    )
    assert (body["plan"], body["limits"]) == (
        "individual_free",
        {"seats": 1, "sessions_per_month": 10, "scenarios": 3},
    )
    assert body["features"]["voice_training"] is True and body["features"]["team_management"] is False
    assert [item["url"] for item in body["navigation"]] == PERSONAL_NAVIGATION
    assert body["show_switcher"] is False
    assert before.json()["show_switcher"] is False and len(before.json()["workspaces"]) == 1

    team = (
        await call(services, "POST", "/v1/orgs", token, json={"name": "Second", "slug": new_slug()})
    ).json()
    after = (await call(services, "GET", "/v1/me/workspaces", token)).json()
    team_context = (
        await call(services, "GET", "/v1/me/context", token, params={"org_id": team["id"]})
    ).json()

    assert after["show_switcher"] is True
    assert [(w["org_id"], w["is_personal"], w["role"]) for w in after["workspaces"]] == [
        (claims["org_id"], True, "trainee"),
        (team["id"], False, "admin"),
    ]
    assert (team_context["org"]["id"], team_context["role"], team_context["show_switcher"]) == (
        team["id"],
        "admin",
        True,
    )
    stranger_org = (await sign_up(services))[1]["org_id"]
    not_mine = await call(services, "GET", "/v1/me/context", token, params={"org_id": stranger_org})
    assert (not_mine.status_code, not_mine.json()["error"]["code"]) == (404, "org_not_found")
