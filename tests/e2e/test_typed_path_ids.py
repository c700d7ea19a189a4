"""Every `{org_id}` path parameter of every service is typed once (`shared.http.ids.OrgId`): a
malformed one answers 404 `org_not_found` — what an unknown org answers — never 500 and never
another org's data (billing's own routes: services/billing/tests/test_path_org_ids.py)."""

from __future__ import annotations

import uuid

import httpx

from devstack.services import Fleet
from devstack.testing import bearer, bearer_token, sign_up

MALFORMED = ["not-an-org", "%2C", "*"]


async def test_a_malformed_path_org_id_is_org_not_found_in_workspace_and_invites(services: Fleet) -> None:
    user_id, claims = await sign_up(services)
    _, other = await sign_up(services)
    token = await bearer_token(services, user_id)
    two_orgs = f"{claims['org_id']},{other['org_id']}"
    routes = [
        ("workspace", "GET", "/v1/orgs/{}", None),
        ("workspace", "GET", "/v1/orgs/{}/members", None),
        ("workspace", "PATCH", f"/v1/orgs/{{}}/members/{user_id}", {"role": "admin"}),
        ("workspace", "DELETE", f"/v1/orgs/{{}}/members/{user_id}", None),
        ("workspace", "POST", "/v1/orgs/{}/convert", {"name": "Team", "slug": f"t-{uuid.uuid4().hex[:8]}"}),
        ("invites", "GET", "/v1/orgs/{}/invitation-links", None),
        ("invites", "POST", "/v1/orgs/{}/invitation-links", {"role": "trainee"}),
        ("invites", "DELETE", "/v1/orgs/{}/invitation-links/some-slug", None),
        ("invites", "GET", "/v1/orgs/{}/invitations", None),
        ("invites", "POST", "/v1/orgs/{}/invitations", {"email": "a@example.com", "role": "trainee"}),
        ("invites", "DELETE", f"/v1/orgs/{{}}/invitations/{uuid.uuid4()}", None),
        ("invites", "POST", f"/v1/orgs/{{}}/invitations/{uuid.uuid4()}/resend", None),
    ]
    answers = []
    for service, method, path, body in routes:
        async with httpx.AsyncClient(base_url=services[service].url, timeout=10) as client:
            for org_id in [*MALFORMED, two_orgs]:
                response = await client.request(method, path.format(org_id), json=body, headers=bearer(token))
                answers.append(
                    (service, method, path, org_id, response.status_code, response.json()["error"]["code"])
                )

    assert [answer for answer in answers if answer[4:] != (404, "org_not_found")] == []
