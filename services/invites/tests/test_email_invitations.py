"""Email invitations through the real service and the platform's SMTP sink: the email arrives with
a link that works once, for that address only; a pending invitation holds a seat; a new user whose
address was invited joins at signup with no personal workspace."""

from __future__ import annotations

import re
import uuid
from email.message import Message
from typing import Any

import httpx

from devstack.platform import Platform
from devstack.pytest_plugin import TEST_AUTH_SECRET
from devstack.services import Fleet
from devstack.testing import (
    bearer,
    bearer_token,
    complete_claims,
    count,
    eventually,
    mails_to,
    new_user_id,
    post_auth_webhook,
    sign_up,
    wait_consumed,
)
from devstack.webhooks import clerk_user_created, signed_delivery
from shared.events.topics import INVITES_INVITATIONS


async def token_mailed_to(platform: Platform, address: str, *, nth: int = 1) -> str:
    async def probe() -> list[Message]:
        return mails_to(platform, address)

    messages = await eventually(probe, until=lambda m: len(m) >= nth, what=f"email #{nth} to {address}")
    body = messages[nth - 1].get_payload(decode=True)
    assert isinstance(body, bytes)
    match = re.search(r"\?token=([A-Za-z0-9_\-]+)", body.decode())
    assert match, body
    return match.group(1)


async def invite(client: httpx.AsyncClient, team: Any, address: str, role: str = "trainee") -> httpx.Response:
    return await client.post(
        f"/v1/orgs/{team.org_id}/invitations",
        json={"email": address, "role": role},
        headers=team.admin_headers,
    )


async def test_the_mailed_link_works_once_for_that_address_only(
    services: Fleet, platform: Platform, team_org: Any, invites_client: httpx.AsyncClient
) -> None:
    team = await team_org()
    invitee_id, _ = await sign_up(services)
    address = f"{invitee_id}@example.com"
    created = await invite(invites_client, team, f"  {address.upper()} ", role="manager")
    assert created.status_code == 201, created.text
    assert {k: created.json()[k] for k in ("email", "role", "status")} == {
        "email": address,
        "role": "manager",
        "status": "pending",
    }
    again = await invite(invites_client, team, address)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "already_invited")
    token = await token_mailed_to(platform, address)

    other_id, _ = await sign_up(services)
    other = bearer(await bearer_token(services, other_id))
    mismatch = await invites_client.post(f"/v1/invitations/{token}/accept", headers=other)
    assert (mismatch.status_code, mismatch.json()["error"]["code"]) == (403, "email_mismatch")

    invitee = bearer(await bearer_token(services, invitee_id))
    accepted = await invites_client.post(f"/v1/invitations/{token}/accept", headers=invitee)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"org_id": team.org_id, "role": "manager", "status": "joined"}
    used = await invites_client.post(f"/v1/invitations/{token}/accept", headers=invitee)
    assert (used.status_code, used.json()["error"]["code"]) == (410, "invitation_used")
    unknown = await invites_client.post("/v1/invitations/not-a-token/accept", headers=invitee)
    assert unknown.status_code == 404
    await eventually(
        lambda: count(
            platform,
            "workspace",
            "SELECT count(*) FROM memberships WHERE org_id = $1 AND user_id = $2 AND role = 'manager'",
            uuid.UUID(team.org_id),
            invitee_id,
        ),
        until=lambda n: n == 1,
        what="the invitee's membership",
    )
    member = await invite(invites_client, team, address)
    assert (member.status_code, member.json()["error"]["code"]) == (409, "already_member")
    listed = (
        await invites_client.get(f"/v1/orgs/{team.org_id}/invitations", headers=team.admin_headers)
    ).json()
    assert [i["status"] for i in listed["invitations"]] == ["accepted"]


async def test_pending_invitations_hold_seats_and_resend_replaces_the_link(
    services: Fleet, platform: Platform, team_org: Any, invites_client: httpx.AsyncClient
) -> None:
    team = await team_org(seats=3, plan="free")
    first = (await invite(invites_client, team, f"a-{uuid.uuid4().hex}@example.com")).json()
    second_address = f"b-{uuid.uuid4().hex}@example.com"
    second = (await invite(invites_client, team, second_address)).json()
    # Admin + two pending invitations = 3 seats held.
    full = await invite(invites_client, team, f"c-{uuid.uuid4().hex}@example.com")
    assert (full.status_code, full.json()["error"]["code"]) == (409, "seat_limit_reached")
    no_link = await invites_client.post(
        f"/v1/orgs/{team.org_id}/invitation-links", json={"role": "trainee"}, headers=team.admin_headers
    )
    assert (no_link.status_code, no_link.json()["error"]["code"]) == (409, "seat_limit_reached")
    revoked = await invites_client.delete(
        f"/v1/orgs/{team.org_id}/invitations/{first['id']}", headers=team.admin_headers
    )
    assert revoked.status_code == 204
    assert (await invite(invites_client, team, f"c-{uuid.uuid4().hex}@example.com")).status_code == 201

    old_token = await token_mailed_to(platform, second_address)
    resent = await invites_client.post(
        f"/v1/orgs/{team.org_id}/invitations/{second['id']}/resend", headers=team.admin_headers
    )
    assert resent.status_code == 200, resent.text
    new_token = await token_mailed_to(platform, second_address, nth=2)
    assert new_token != old_token
    # The address signs up later and joins at signup; the replaced link is dead, the new one spent.
    user_id, claims = await sign_up_with_email(services, second_address)
    assert (claims["org_id"], claims["is_personal_org"]) == (team.org_id, False)
    headers = bearer(await bearer_token(services, user_id))
    stale = await invites_client.post(f"/v1/invitations/{old_token}/accept", headers=headers)
    assert (stale.status_code, stale.json()["error"]["code"]) == (404, "invitation_not_found")
    spent = await invites_client.post(f"/v1/invitations/{new_token}/accept", headers=headers)
    assert (spent.status_code, spent.json()["error"]["code"]) == (410, "invitation_used")


async def sign_up_with_email(services: Fleet, address: str) -> tuple[str, dict[str, Any]]:
    user_id = new_user_id()
    payload = clerk_user_created(user_id=user_id, email=address, first_name="Mo")
    body, headers = signed_delivery(payload, secret=TEST_AUTH_SECRET)
    assert (await post_auth_webhook(services, body, headers)).status_code == 200
    return user_id, await complete_claims(services, user_id)


async def test_a_new_user_whose_address_was_invited_joins_at_signup(
    services: Fleet, platform: Platform, team_org: Any, invites_client: httpx.AsyncClient
) -> None:
    team = await team_org()
    address = f"new-{uuid.uuid4().hex}@example.com"
    assert (await invite(invites_client, team, address.upper(), role="client")).status_code == 201
    await wait_consumed(platform.kafka_bootstrap, group="workspace", topic=INVITES_INVITATIONS)

    user_id, claims = await sign_up_with_email(services, address)

    assert (claims["org_id"], claims["org_role"], claims["is_personal_org"]) == (team.org_id, "client", False)
    assert (
        await count(platform, "workspace", "SELECT count(*) FROM orgs WHERE personal_user_id = $1", user_id)
        == 0
    )
    listed = (
        await invites_client.get(f"/v1/orgs/{team.org_id}/invitations", headers=team.admin_headers)
    ).json()
    assert [i["status"] for i in listed["invitations"]] == ["accepted"]
