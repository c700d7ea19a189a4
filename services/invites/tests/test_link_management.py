"""Creating, listing and revoking links: who may, what is refused (422, 403, 404), and the Link
shape of API.md."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from devstack.platform import Platform
from devstack.services import Fleet
from devstack.testing import bearer, bearer_token, publish, sign_up, wait_consumed
from shared.events.envelope import new_envelope
from shared.events.schemas.workspace import OrgConverted
from shared.events.topics import WORKSPACE_ORGS


async def test_admin_creates_lists_and_revokes_links(
    services: Fleet, team_org: Any, invites_client: httpx.AsyncClient
) -> None:
    team = await team_org()
    base = f"/v1/orgs/{team.org_id}/invitation-links"
    created = await invites_client.post(
        base, json={"role": "client", "max_uses": 25, "expires_in_days": 30}, headers=team.admin_headers
    )
    assert created.status_code == 201, created.text
    link = created.json()
    assert set(link) == {
        "slug", "url", "org_id", "role", "max_uses", "current_uses", "expires_at", "created_by",
        "created_at", "revoked_at",
    }  # fmt: skip
    assert (link["org_id"], link["role"], link["max_uses"], link["current_uses"]) == (
        team.org_id,
        "client",
        25,
        0,
    )
    assert link["created_by"] == team.admin_id and link["revoked_at"] is None
    assert link["url"].endswith(f"/invite/{link['slug']}")
    assert len(link["slug"]) >= 22  # at least 128 bits, URL-safe base64
    default = (await invites_client.post(base, json={"role": "hr"}, headers=team.admin_headers)).json()
    assert default["max_uses"] == 1

    assert await invites_client.delete(f"{base}/{default['slug']}", headers=team.admin_headers)
    usable = (await invites_client.get(base, headers=team.admin_headers)).json()["links"]
    assert [item["slug"] for item in usable] == [link["slug"]]
    everything = (await invites_client.get(f"{base}?include=all", headers=team.admin_headers)).json()["links"]
    assert {item["slug"] for item in everything} == {link["slug"], default["slug"]}
    assert next(i for i in everything if i["slug"] == default["slug"])["revoked_at"] is not None
    unknown = await invites_client.delete(f"{base}/nope", headers=team.admin_headers)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "invitation_not_found")


async def test_bad_input_is_422_and_never_stored(team_org: Any, invites_client: httpx.AsyncClient) -> None:
    team = await team_org()
    base = f"/v1/orgs/{team.org_id}/invitation-links"
    for body in (
        {"role": "owner"},
        {"role": "trainee", "max_uses": 0},
        {"role": "trainee", "max_uses": 1001},
        {"role": "trainee", "expires_in_days": 0},
        {"role": "trainee", "expires_in_days": 31},
        {"role": "trainee", "max_uses": "many"},
        {},
    ):
        answer = await invites_client.post(base, json=body, headers=team.admin_headers)
        assert (answer.status_code, answer.json()["error"]["code"]) == (422, "validation_error"), body
    assert (await invites_client.get(f"{base}?include=all", headers=team.admin_headers)).json()["links"] == []


async def test_who_may_manage_links(
    services: Fleet, platform: Platform, team_org: Any, invites_client: httpx.AsyncClient
) -> None:
    team = await team_org()
    base = f"/v1/orgs/{team.org_id}/invitation-links"
    # A member whose role may not (a trainee who joined through a link).
    link = (await invites_client.post(base, json={"role": "trainee"}, headers=team.admin_headers)).json()
    trainee_id, _ = await sign_up(services)
    trainee = bearer(await bearer_token(services, trainee_id))
    assert (
        await invites_client.post(f"/v1/invitation-links/{link['slug']}/redeem", headers=trainee)
    ).is_success
    forbidden = await invites_client.post(base, json={"role": "trainee"}, headers=trainee)
    assert (forbidden.status_code, forbidden.json()["error"]["code"]) == (403, "forbidden")
    # Not a member: the org cannot be probed.
    stranger_id, claims = await sign_up(services)
    stranger = bearer(await bearer_token(services, stranger_id))
    hidden = await invites_client.get(base, headers=stranger)
    assert (hidden.status_code, hidden.json()["error"]["code"]) == (404, "org_not_found")
    ghost = await invites_client.get(f"/v1/orgs/{uuid.uuid4()}/invitation-links", headers=stranger)
    assert ghost.status_code == 404
    # Their own personal workspace: personal_org, whatever the role.
    await wait_consumed(platform.kafka_bootstrap, group="invites", topic=WORKSPACE_ORGS)
    personal = await invites_client.post(
        f"/v1/orgs/{claims['org_id']}/invitation-links", json={"role": "trainee"}, headers=stranger
    )
    assert (personal.status_code, personal.json()["error"]["code"]) == (403, "personal_org")
    anonymous = await invites_client.post(base, json={"role": "trainee"})
    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "invalid_token")


async def test_public_routes_are_rate_limited_per_client(services: Fleet) -> None:
    # From addresses of their own (all of 127/8 is loopback), so other tests keep their budget.
    async def client_from(address: str) -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(local_address=address)
        return httpx.AsyncClient(base_url=services["invites"].url, transport=transport, timeout=10)

    async with await client_from("127.0.0.7") as prober, await client_from("127.0.0.8") as other:
        statuses = [(await prober.get(f"/v1/invitation-links/probe-{n}")).status_code for n in range(60)]
        assert set(statuses) == {404}
        limited = await prober.get("/invite/probe-61")
        assert (limited.status_code, limited.json()["error"]["code"]) == (429, "rate_limited")
        # Another client is not affected.
        assert (await other.get("/v1/invitation-links/probe-x")).status_code == 404


async def test_a_converted_personal_org_takes_links_from_its_owner(
    services: Fleet, platform: Platform, invites_client: httpx.AsyncClient
) -> None:
    owner_id, claims = await sign_up(services)
    org_id = claims["org_id"]
    owner = bearer(await bearer_token(services, owner_id))
    await wait_consumed(platform.kafka_bootstrap, group="invites", topic=WORKSPACE_ORGS)
    before = await invites_client.post(
        f"/v1/orgs/{org_id}/invitation-links", json={"role": "hr"}, headers=owner
    )
    assert (before.status_code, before.json()["error"]["code"]) == (403, "personal_org")

    converted = OrgConverted(
        org_id=org_id, name="Acme", slug=f"acme-{org_id[:8]}", owner_user_id=owner_id, plan="starter"
    )
    envelope = new_envelope(source="workspace", subject=org_id, data=converted)
    await publish(platform.kafka_bootstrap, WORKSPACE_ORGS, key=org_id, value=envelope.to_bytes())
    await wait_consumed(platform.kafka_bootstrap, group="invites", topic=WORKSPACE_ORGS)

    after = await invites_client.post(
        f"/v1/orgs/{org_id}/invitation-links", json={"role": "hr"}, headers=owner
    )
    assert after.status_code == 201, after.text
    check = (await invites_client.get(f"/v1/invitation-links/{after.json()['slug']}")).json()
    assert check["org_name"] == "Acme"
