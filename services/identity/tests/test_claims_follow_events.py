"""Claims (and so the next token) follow workspace's events: a role change, a removal, a
conversion; a redelivered event changes nothing. Events are published to Kafka by hand, after
a real signup, as workspace would publish them."""

from __future__ import annotations

import uuid
from typing import Any

import jwt

from devstack.platform import Platform
from devstack.services import Fleet
from devstack.testing import (
    bearer_token,
    eventually,
    publish,
    read_claims,
    request_token,
    sign_up,
    wait_consumed,
)
from shared.events.envelope import Envelope, new_envelope
from shared.events.schemas.workspace import (
    MembershipAdded,
    MembershipRemoved,
    MembershipRoleChanged,
    OrgConverted,
    OrgCreated,
)
from shared.events.topics import WORKSPACE_ORGS


async def deliver(platform: Platform, envelope: Envelope, *, times: int = 1) -> None:
    await publish(
        platform.kafka_bootstrap, WORKSPACE_ORGS, key=envelope.subject, value=envelope.to_bytes(), times=times
    )
    await wait_consumed(platform.kafka_bootstrap, group="identity", topic=WORKSPACE_ORGS)


def event(data: Any) -> Envelope:
    return new_envelope(source="workspace", subject=data.org_id, data=data)


async def claims_of(fleet: Fleet, user_id: str) -> dict[str, Any]:
    claims = await read_claims(fleet, user_id)
    assert claims.pop("status") == 200
    return claims


async def test_role_changes_and_removals_reach_the_claims(services: Fleet, platform: Platform) -> None:
    user_id, personal = await sign_up(services)
    team_org = str(uuid.uuid4())
    await deliver(
        platform,
        event(MembershipAdded(org_id=team_org, user_id=user_id, role="manager", is_personal_org=False)),
    )
    assert (await claims_of(services, user_id))["org_id"] == personal["org_id"]  # first stays active

    # Asking for a token for the team org makes it the active org.
    token = await bearer_token(services, user_id, org_id=team_org)
    assert jwt.decode(token, options={"verify_signature": False})["org_role"] == "manager"
    await deliver(
        platform,
        event(MembershipRoleChanged(org_id=team_org, user_id=user_id, role="admin", previous_role="manager")),
    )
    claims = await claims_of(services, user_id)
    assert (claims["org_id"], claims["org_role"], claims["is_personal_org"]) == (team_org, "admin", False)
    fresh = await bearer_token(services, user_id)
    assert jwt.decode(fresh, options={"verify_signature": False})["org_role"] == "admin"

    # Removed from the active org: back to the personal workspace.
    await deliver(platform, event(MembershipRemoved(org_id=team_org, user_id=user_id, reason="removed")))
    claims = await claims_of(services, user_id)
    assert claims == {key: value for key, value in personal.items() if key != "status"}
    refused = await request_token(services, user_id, org_id=team_org)
    assert refused.status_code == 403

    # No membership left: no org, no token until a new one arrives.
    await deliver(
        platform, event(MembershipRemoved(org_id=personal["org_id"], user_id=user_id, reason="user_deleted"))
    )
    assert (await claims_of(services, user_id))["org_id"] is None
    assert (await request_token(services, user_id)).json()["error"]["code"] == "not_provisioned"


async def test_removal_falls_back_to_the_oldest_membership_without_a_personal_org(
    services: Fleet, platform: Platform
) -> None:
    user_id, personal = await sign_up(services)
    older, newer = str(uuid.uuid4()), str(uuid.uuid4())
    for org_id in (older, newer):
        await deliver(
            platform,
            event(MembershipAdded(org_id=org_id, user_id=user_id, role="trainee", is_personal_org=False)),
        )
    await deliver(
        platform, event(MembershipRemoved(org_id=personal["org_id"], user_id=user_id, reason="left"))
    )
    assert (await claims_of(services, user_id))["org_id"] == older
    await bearer_token(services, user_id, org_id=newer)
    await deliver(platform, event(MembershipRemoved(org_id=newer, user_id=user_id, reason="left")))
    assert (await claims_of(services, user_id))["org_id"] == older


async def test_a_converted_org_makes_its_owner_a_team_admin(services: Fleet, platform: Platform) -> None:
    user_id, personal = await sign_up(services)

    await deliver(
        platform,
        event(
            OrgConverted(
                org_id=personal["org_id"],
                name="Ada's Team",
                slug="adas-team",
                owner_user_id=user_id,
                plan="starter",
            )
        ),
    )

    claims = await claims_of(services, user_id)
    assert (claims["org_id"], claims["org_role"], claims["is_personal_org"]) == (
        personal["org_id"],
        "admin",
        False,
    )
    token = jwt.decode(await bearer_token(services, user_id), options={"verify_signature": False})
    assert (token["org_role"], token["is_personal_org"]) == ("admin", False)


async def test_a_redelivered_event_changes_nothing(services: Fleet, platform: Platform) -> None:
    user_id, personal = await sign_up(services)
    org_id = personal["org_id"]
    to_admin = event(
        MembershipRoleChanged(org_id=org_id, user_id=user_id, role="admin", previous_role="trainee")
    )
    await deliver(platform, to_admin, times=2)
    await deliver(
        platform,
        event(MembershipRoleChanged(org_id=org_id, user_id=user_id, role="hr", previous_role="admin")),
    )

    await deliver(platform, to_admin)  # the same event (same id) once more

    assert (await claims_of(services, user_id))["org_role"] == "hr"
    added = event(
        MembershipAdded(org_id=str(uuid.uuid4()), user_id=user_id, role="tech", is_personal_org=False)
    )
    await deliver(platform, added)
    await deliver(platform, event(MembershipRemoved(org_id=added.subject, user_id=user_id, reason="removed")))
    await deliver(platform, added)  # a late duplicate does not bring the membership back
    refused = await request_token(services, user_id, org_id=added.subject)
    assert refused.status_code == 403
    await eventually(
        lambda: claims_of(services, user_id),
        until=lambda claims: claims["org_id"] == org_id,
        what="claims still on the personal org",
    )


async def test_the_plan_comes_from_billing_only_so_complete_claims_mean_billing_knows_the_org(
    services: Fleet, platform: Platform
) -> None:
    """An `org.created` names the plan the org asks for; claims never take it from there. A client
    that sees a plan in the claims may call billing for that org at once (issue 17 tried it the
    other way: claims were complete before billing had the org, and billing answered 404)."""
    user_id, _ = await sign_up(services)
    org_id = str(uuid.uuid4())
    name = f"Team {org_id[:8]}"
    created = OrgCreated(
        org_id=org_id,
        name=name,
        slug=name.lower().replace(" ", "-"),
        is_personal=False,
        kind="team",
        owner_user_id=user_id,
        initial_plan="free",
    )
    with services["billing"].down():  # billing cannot have answered yet
        await deliver(platform, event(created))
        await deliver(
            platform,
            event(MembershipAdded(org_id=org_id, user_id=user_id, role="admin", is_personal_org=False)),
        )
        await bearer_token(services, user_id, org_id=org_id)  # the team org becomes the active one
        claims = await claims_of(services, user_id)
        assert (claims["org_id"], claims["plan"]) == (org_id, None)
    # billing, back, starts the org and its plan reaches the claims.
    await eventually(
        lambda: claims_of(services, user_id), until=lambda c: c["plan"] == "free", what="billing's plan"
    )
