"""Factories for invites's tests: team orgs made the way invites learns of them (workspace's and
billing's events, published by hand), since team orgs cannot be created over HTTP yet."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from devstack.platform import Platform
from devstack.services import Fleet
from devstack.sql import fetch
from devstack.testing import bearer, bearer_token, publish, service_db, sign_up, wait_consumed
from shared.events.envelope import EventData, new_envelope
from shared.events.schemas.billing import PlanLimits, SubscriptionChanged
from shared.events.schemas.workspace import MembershipAdded, OrgCreated
from shared.events.topics import BILLING_SUBSCRIPTIONS, WORKSPACE_ORGS


@dataclass(frozen=True)
class TeamOrg:
    org_id: str
    name: str
    admin_id: str
    admin_headers: dict[str, str]


async def deliver(platform: Platform, topic: str, data: EventData, *, subject: str) -> None:
    envelope = new_envelope(source="test", subject=subject, data=data)
    await publish(platform.kafka_bootstrap, topic, key=subject, value=envelope.to_bytes())


async def wait_invites_caught_up(platform: Platform) -> None:
    for topic in (WORKSPACE_ORGS, BILLING_SUBSCRIPTIONS):
        await wait_consumed(platform.kafka_bootstrap, group="invites", topic=topic)


async def add_member(platform: Platform, *, org_id: str, user_id: str, role: str) -> None:
    """A membership as workspace would have made it: its row, and its event."""
    await fetch(
        service_db(platform, "workspace"),
        "INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, $3)",
        uuid.UUID(org_id),
        user_id,
        role,
    )
    added = MembershipAdded(org_id=org_id, user_id=user_id, role=role, is_personal_org=False)
    await deliver(platform, WORKSPACE_ORGS, added, subject=org_id)


async def set_seats(platform: Platform, *, org_id: str, seats: int | None, plan: str, version: int) -> None:
    limits = PlanLimits(seats=seats, sessions_per_month=None, scenarios=None, ai_generation=True)
    changed = SubscriptionChanged(
        org_id=org_id,
        plan=plan,
        plan_kind="team",
        status="active",
        version=version,
        limits=limits,
        features={},
    )
    await deliver(platform, BILLING_SUBSCRIPTIONS, changed, subject=org_id)


async def make_team_org(services: Fleet, platform: Platform, *, seats: int | None, plan: str) -> TeamOrg:
    """A team org whose admin is a freshly signed-up user, on a plan with `seats` seats."""
    admin_id, _ = await sign_up(services)
    org_id = str(uuid.uuid4())
    name = f"Team {org_id[:8]}"
    await fetch(
        service_db(platform, "workspace"),
        "INSERT INTO orgs (id, name, slug, is_personal, settings) VALUES ($1, $2, $3, false, "
        '\'{"show_team_features": true, "show_leaderboard": true}\')',
        uuid.UUID(org_id),
        name,
        f"team-{org_id}",
    )
    created = OrgCreated(
        org_id=org_id,
        name=name,
        slug=f"team-{org_id}",
        is_personal=False,
        kind="team",
        owner_user_id=admin_id,
        created_by=admin_id,
        initial_plan="free",
    )
    await deliver(platform, WORKSPACE_ORGS, created, subject=org_id)
    await add_member(platform, org_id=org_id, user_id=admin_id, role="admin")
    # A version far above billing's own first ones, so it stays the newest.
    await set_seats(platform, org_id=org_id, seats=seats, plan=plan, version=1000)
    await wait_invites_caught_up(platform)
    await wait_consumed(platform.kafka_bootstrap, group="identity", topic=WORKSPACE_ORGS)
    token = await bearer_token(services, admin_id, org_id=org_id)
    return TeamOrg(org_id=org_id, name=name, admin_id=admin_id, admin_headers=bearer(token))


TeamOrgFactory = Callable[..., Awaitable[TeamOrg]]


@pytest.fixture
def team_org(services: Fleet, platform: Platform) -> TeamOrgFactory:
    async def make(*, seats: int | None = 50, plan: str = "professional") -> TeamOrg:
        return await make_team_org(services, platform, seats=seats, plan=plan)

    return make


@pytest.fixture
async def invites_client(services: Fleet) -> Any:
    async with httpx.AsyncClient(base_url=services["invites"].url, timeout=30) as client:
        yield client
