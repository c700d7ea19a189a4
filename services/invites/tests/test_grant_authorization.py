"""Issue 15: a link or an invitation carries at most what its maker may grant (admins any role,
managers hr, trainee, tech, client; else 403 `role_not_allowed`), and one whose maker can no longer
grant its role — demoted through workspace, the real flow through Kafka — is refused as revoked:
410 `invitation_revoked` over HTTP, the `invitation_revoked` verdict (a personal workspace) at
signup."""

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
    eventually,
    fetch,
    mails_to,
    new_slug,
    new_user_id,
    post_auth_webhook,
    service_db,
    sign_up,
    wait_consumed,
)
from devstack.webhooks import clerk_user_created, signed_delivery
from shared.events.topics import IDENTITY_USERS

from .conftest import add_member

ALL_ROLES = ("admin", "manager", "hr", "trainee", "tech", "client")


def error_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


async def role_in_invites(platform: Platform, org_id: str, user_id: str) -> str | None:
    rows = await fetch(
        service_db(platform, "invites"),
        "SELECT role FROM member_views WHERE org_id = $1 AND user_id = $2",
        uuid.UUID(org_id),
        user_id,
    )
    return str(rows[0]["role"]) if rows else None


async def wait_role_in_invites(platform: Platform, org_id: str, user_id: str, role: str) -> None:
    await eventually(
        lambda: role_in_invites(platform, org_id, user_id),
        until=lambda seen: seen == role,
        what=f"invites sees {user_id} as {role}",
    )


async def token_mailed_to(platform: Platform, address: str) -> str:
    async def probe() -> list[Message]:
        return mails_to(platform, address)

    [message] = await eventually(probe, until=lambda found: len(found) >= 1, what=f"an email to {address}")
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    match = re.search(r"\?token=([A-Za-z0-9_\-]+)", body.decode())
    assert match, body
    return match.group(1)


async def signup_verdicts(platform: Platform, user_id: str) -> list[tuple[str, str | None]]:
    """What workspace recorded of the user's invited signup: (outcome, reason) rows."""
    rows = await fetch(
        service_db(platform, "workspace"),
        "SELECT outcome, reason FROM invited_signups WHERE user_id = $1",
        user_id,
    )
    return [(row["outcome"], row["reason"]) for row in rows]


async def test_a_manager_may_grant_only_the_four_roles_below_manager(
    services: Fleet, platform: Platform, team_org: Any, invites_client: httpx.AsyncClient
) -> None:
    team = await team_org()
    links = f"/v1/orgs/{team.org_id}/invitation-links"
    invitations = f"/v1/orgs/{team.org_id}/invitations"
    manager_link = (
        await invites_client.post(links, json={"role": "manager"}, headers=team.admin_headers)
    ).json()
    manager_id, _ = await sign_up(services)
    manager = bearer(await bearer_token(services, manager_id))
    joined = await invites_client.post(f"/v1/invitation-links/{manager_link['slug']}/redeem", headers=manager)
    assert joined.json()["role"] == "manager", joined.text

    for role in ALL_ROLES:
        link = await invites_client.post(links, json={"role": role}, headers=manager)
        invitation = await invites_client.post(
            invitations,
            json={"email": f"{role}-{uuid.uuid4().hex[:8]}@example.com", "role": role},
            headers=manager,
        )
        if role in ("admin", "manager"):
            assert error_of(link) == (403, "role_not_allowed"), role
            assert error_of(invitation) == (403, "role_not_allowed"), role
        else:
            assert link.status_code == 201 and invitation.status_code == 201, (
                role,
                link.text,
                invitation.text,
            )
    # An admin may grant any of the six.
    for role in ALL_ROLES:
        assert (
            await invites_client.post(links, json={"role": role}, headers=team.admin_headers)
        ).status_code == 201
    # Nothing was stored for the refused ones.
    made_by_manager = await fetch(
        service_db(platform, "invites"),
        "SELECT role FROM invitation_links WHERE created_by = $1 UNION ALL "
        "SELECT role FROM email_invitations WHERE created_by = $1",
        manager_id,
    )
    assert sorted(row["role"] for row in made_by_manager) == sorted(["hr", "trainee", "tech", "client"] * 2)


async def test_what_a_demoted_admin_made_is_refused_as_revoked(
    services: Fleet, platform: Platform, invites_client: httpx.AsyncClient
) -> None:
    # A real team org, made through workspace; a second admin who joins through a link.
    founder_id, _ = await sign_up(services)
    founder = bearer(await bearer_token(services, founder_id))
    async with httpx.AsyncClient(base_url=services["workspace"].url, timeout=10) as workspace:
        created = await workspace.post(
            "/v1/orgs", json={"name": "Demotion", "slug": new_slug()}, headers=founder
        )
        assert created.status_code == 201, created.text
        org_id = created.json()["id"]
        await wait_role_in_invites(platform, org_id, founder_id, "admin")
        links = f"/v1/orgs/{org_id}/invitation-links"
        admin_link = (await invites_client.post(links, json={"role": "admin"}, headers=founder)).json()
        second_id, _ = await sign_up(services)
        second = bearer(await bearer_token(services, second_id))
        assert (
            await invites_client.post(f"/v1/invitation-links/{admin_link['slug']}/redeem", headers=second)
        ).is_success

        # What the second admin makes: a manager link (two uses), an email invitation to an
        # existing user.
        manager_link = (
            await invites_client.post(links, json={"role": "manager", "max_uses": 2}, headers=second)
        ).json()
        invitee_id, _ = await sign_up(services)
        await wait_consumed(platform.kafka_bootstrap, group="invites", topic=IDENTITY_USERS)
        invited = await invites_client.post(
            f"/v1/orgs/{org_id}/invitations",
            json={"email": f"{invitee_id}@example.com", "role": "hr"},
            headers=second,
        )
        assert invited.status_code == 201, invited.text
        token = await token_mailed_to(platform, f"{invitee_id}@example.com")
        # Before the demotion the link is good.
        assert (await invites_client.get(f"/v1/invitation-links/{manager_link['slug']}")).status_code == 200

        # The founder demotes the second admin to trainee in workspace; invites learns it from
        # membership.role_changed.
        async def demote() -> httpx.Response:
            return await workspace.patch(
                f"/v1/orgs/{org_id}/members/{second_id}", json={"role": "trainee"}, headers=founder
            )

        # workspace has the membership once invitation.accepted reached it.
        demoted = await eventually(
            demote, until=lambda r: r.status_code != 404, what="the second admin in workspace"
        )
        assert demoted.status_code == 200, demoted.text
    await wait_role_in_invites(platform, org_id, second_id, "trainee")

    redeemer_id, _ = await sign_up(services)
    redeemer = bearer(await bearer_token(services, redeemer_id))
    redeemed = await invites_client.post(
        f"/v1/invitation-links/{manager_link['slug']}/redeem", headers=redeemer
    )
    assert error_of(redeemed) == (410, "invitation_revoked")
    checked = await invites_client.get(f"/v1/invitation-links/{manager_link['slug']}")
    assert error_of(checked) == (410, "invitation_revoked")
    invitee = bearer(await bearer_token(services, invitee_id))
    accepted = await invites_client.post(f"/v1/invitations/{token}/accept", headers=invitee)
    assert error_of(accepted) == (410, "invitation_revoked")
    # Nothing was used or joined.
    [link_row] = await fetch(
        service_db(platform, "invites"),
        "SELECT current_uses FROM invitation_links WHERE slug = $1",
        manager_link["slug"],
    )
    assert link_row["current_uses"] == 0
    assert await role_in_invites(platform, org_id, redeemer_id) is None
    assert await role_in_invites(platform, org_id, invitee_id) is None

    # A new user signing up with the link: refused the same way, so a personal workspace.
    newcomer = new_user_id()
    payload = clerk_user_created(
        user_id=newcomer,
        email=f"{newcomer}@example.com",
        first_name="Ona",
        pending_invitation=manager_link["slug"],
    )
    body, headers = signed_delivery(payload, secret=TEST_AUTH_SECRET)
    assert (await post_auth_webhook(services, body, headers)).status_code == 200
    claims = await complete_claims(services, newcomer)
    assert claims["is_personal_org"] is True
    assert await signup_verdicts(platform, newcomer) == [("failed", "invitation_revoked")]


async def test_an_email_invitation_of_a_demoted_maker_does_not_bind_a_signup(
    services: Fleet, platform: Platform, team_org: Any, invites_client: httpx.AsyncClient
) -> None:
    team = await team_org()
    maker_id, _ = await sign_up(services)
    await add_member(platform, org_id=team.org_id, user_id=maker_id, role="manager")
    await wait_role_in_invites(platform, team.org_id, maker_id, "manager")
    maker = bearer(await bearer_token(services, maker_id))
    newcomer = new_user_id()
    address = f"{newcomer}@example.com"
    invited = await invites_client.post(
        f"/v1/orgs/{team.org_id}/invitations", json={"email": address, "role": "tech"}, headers=maker
    )
    assert invited.status_code == 201, invited.text
    async with httpx.AsyncClient(base_url=services["workspace"].url, timeout=10) as workspace:
        removed = await workspace.delete(
            f"/v1/orgs/{team.org_id}/members/{maker_id}", headers=team.admin_headers
        )
    assert removed.status_code == 204, removed.text
    await eventually(
        lambda: role_in_invites(platform, team.org_id, maker_id),
        until=lambda role: role is None,
        what="invites forgets the removed manager",
    )

    payload = clerk_user_created(user_id=newcomer, email=address, first_name="Ira")
    body, headers = signed_delivery(payload, secret=TEST_AUTH_SECRET)
    assert (await post_auth_webhook(services, body, headers)).status_code == 200

    claims = await complete_claims(services, newcomer)
    assert claims["is_personal_org"] is True
    assert await signup_verdicts(platform, newcomer) == [("failed", "invitation_revoked")]
    assert await role_in_invites(platform, team.org_id, newcomer) is None
