"""DESIGN flow 2 end to end through Kafka: a signup carrying a link's slug joins the inviting org
with the link's role and gets no personal workspace; a signup whose slug cannot be redeemed falls
back to a personal workspace with the reason recorded — whichever order the events arrive in,
however often."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from devstack.platform import Platform
from devstack.pytest_plugin import TEST_AUTH_SECRET
from devstack.services import Fleet
from devstack.testing import (
    complete_claims,
    count,
    eventually,
    fetch,
    new_user_id,
    post_auth_webhook,
    publish,
    service_db,
    wait_consumed,
)
from devstack.webhooks import clerk_user_created, signed_delivery
from shared.events.envelope import Envelope, new_envelope
from shared.events.schemas.identity import UserCreated
from shared.events.schemas.invites import InvitationAccepted, InvitationRedemptionFailed
from shared.events.topics import IDENTITY_USERS, INVITES_INVITATIONS


async def sign_up_invited(services: Fleet, *, user_id: str, slug: str) -> None:
    payload = clerk_user_created(
        user_id=user_id, email=f"{user_id}@example.com", first_name="Lin", pending_invitation=slug
    )
    body, headers = signed_delivery(payload, secret=TEST_AUTH_SECRET)
    response = await post_auth_webhook(services, body, headers)
    assert response.status_code == 200, response.text


async def personal_orgs(platform: Platform, user_id: str) -> int:
    return await count(
        platform, "workspace", "SELECT count(*) FROM orgs WHERE personal_user_id = $1", user_id
    )


async def signup_verdict(platform: Platform, user_id: str) -> dict[str, Any]:
    rows = await fetch(
        service_db(platform, "workspace"),
        "SELECT outcome, reason, signed_up FROM invited_signups WHERE user_id = $1",
        user_id,
    )
    return dict(rows[0]) if rows else {}


async def settled(platform: Platform) -> None:
    """Every service has seen everything published so far on the topics of this flow."""
    for group, topic in (("invites", IDENTITY_USERS), ("workspace", IDENTITY_USERS)):
        await wait_consumed(platform.kafka_bootstrap, group=group, topic=topic)
    await wait_consumed(platform.kafka_bootstrap, group="workspace", topic=INVITES_INVITATIONS)


async def test_signup_with_a_valid_slug_joins_the_org_and_gets_no_personal_workspace(
    services: Fleet, platform: Platform, team_org: Any, invites_client: httpx.AsyncClient
) -> None:
    team = await team_org()
    link = (
        await invites_client.post(
            f"/v1/orgs/{team.org_id}/invitation-links", json={"role": "manager"}, headers=team.admin_headers
        )
    ).json()
    user_id = new_user_id()

    await sign_up_invited(services, user_id=user_id, slug=link["slug"])

    claims = await complete_claims(services, user_id)
    assert (claims["org_id"], claims["org_role"], claims["is_personal_org"]) == (
        team.org_id,
        "manager",
        False,
    )
    await settled(platform)
    assert await personal_orgs(platform, user_id) == 0
    assert (await signup_verdict(platform, user_id))["outcome"] == "joined"
    members = await fetch(
        service_db(platform, "workspace"),
        "SELECT role FROM memberships WHERE user_id = $1",
        user_id,
    )
    assert [m["role"] for m in members] == ["manager"]

    # The same user.created delivered twice more (same event id; then as a new event): still one
    # verdict, one membership, no personal workspace.
    [row] = await fetch(
        service_db(platform, "identity"),
        "SELECT value FROM outbox WHERE key = $1 AND event_type = 'user.created'",
        user_id,
    )
    await publish(platform.kafka_bootstrap, IDENTITY_USERS, key=user_id, value=bytes(row["value"]), times=2)
    again = new_envelope(
        source="identity", subject=user_id, data=Envelope.from_bytes(row["value"]).payload(UserCreated)
    )
    await publish(platform.kafka_bootstrap, IDENTITY_USERS, key=user_id, value=again.to_bytes())
    await settled(platform)
    assert await personal_orgs(platform, user_id) == 0
    assert (
        await count(platform, "workspace", "SELECT count(*) FROM memberships WHERE user_id = $1", user_id)
        == 1
    )
    accepted = "SELECT count(*) FROM outbox WHERE key = $1 AND event_type = 'invitation.accepted'"
    assert await count(platform, "invites", accepted, user_id) == 1

    # The link is now used up: the next signup with it falls back to a personal workspace.
    late_id = new_user_id()
    await sign_up_invited(services, user_id=late_id, slug=link["slug"])
    late = await complete_claims(services, late_id)
    assert (late["is_personal_org"], late["org_role"]) == (True, "trainee")
    assert await personal_orgs(platform, late_id) == 1
    verdict = await signup_verdict(platform, late_id)
    assert (verdict["outcome"], verdict["reason"]) == ("failed", "invitation_exhausted")


async def test_verdicts_before_the_signup_and_twice_change_nothing_more(
    services: Fleet, platform: Platform, team_org: Any
) -> None:
    team = await team_org()
    bootstrap = platform.kafka_bootstrap
    # A failure verdict that overtakes its user.created, delivered twice.
    failed_id = new_user_id()
    failure = new_envelope(
        source="invites",
        subject=failed_id,
        data=InvitationRedemptionFailed(user_id=failed_id, reason="invitation_expired", invitation="x"),
    )
    await publish(bootstrap, INVITES_INVITATIONS, key=failed_id, value=failure.to_bytes(), times=2)
    # An acceptance that overtakes its user.created, delivered twice.
    joined_id = new_user_id()
    accepted = new_envelope(
        source="invites",
        subject=joined_id,
        data=InvitationAccepted(
            invitation_id=str(uuid.uuid4()),
            kind="link",
            org_id=team.org_id,
            user_id=joined_id,
            role="hr",
            at_signup=True,
        ),
    )
    await publish(bootstrap, INVITES_INVITATIONS, key=joined_id, value=accepted.to_bytes(), times=2)
    await wait_consumed(bootstrap, group="workspace", topic=INVITES_INVITATIONS)
    assert (await signup_verdict(platform, failed_id))["signed_up"] is False

    # Both then sign up with slugs invites cannot redeem (it adds its own failure verdicts).
    await sign_up_invited(services, user_id=failed_id, slug="unknown-" + uuid.uuid4().hex)
    await sign_up_invited(services, user_id=joined_id, slug="unknown-" + uuid.uuid4().hex)

    fell_back = await complete_claims(services, failed_id)
    assert fell_back["is_personal_org"] is True
    joined = await complete_claims(services, joined_id)
    assert (joined["org_id"], joined["org_role"]) == (team.org_id, "hr")
    await settled(platform)
    await eventually(
        lambda: signup_verdict(platform, joined_id),
        until=lambda v: v.get("signed_up") is True,
        what="signup seen",
    )
    assert await personal_orgs(platform, failed_id) == 1
    assert (await signup_verdict(platform, failed_id))["outcome"] == "failed"
    assert await personal_orgs(platform, joined_id) == 0
    assert (await signup_verdict(platform, joined_id))["outcome"] == "joined"
    assert (
        await count(platform, "workspace", "SELECT count(*) FROM memberships WHERE user_id = $1", joined_id)
        == 1
    )
