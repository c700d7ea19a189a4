"""The broker-chaos run's traffic beside the signup burst, and its exactly-once checks.

- **Invited signups.** Before the burst, an admin opens a team org on `professional` (50 seats,
  through a signed Stripe webhook) and a link; some of the burst's signups carry the link's slug.
  Each must join the team once (no personal org), through identity → invites → workspace → identity.
- **Stripe upgrades.** While the burst runs, some accepted signups' personal orgs are upgraded to
  `individual_pro` by a signed `customer.subscription.created`, sent twice (Stripe redelivers).
  Each must reach the user's claims, and billing must announce exactly two subscription states
  for the org (the free start and the one upgrade).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from devstack.platform import Platform
from devstack.postgres import database_url
from devstack.provisioning import problems_left
from devstack.services import Fleet
from devstack.sql import fetch
from devstack.stripe_webhooks import post_stripe, stripe_event, subscription_object
from devstack.svix_sender import Delivery
from devstack.testing import bearer_token, call_service, eventually, new_slug, sign_up
from devstack.webhooks import clerk_user_created, new_user_id

TEAM_PLAN = "professional"  # 50 seats: room for every invited signup of a run
UPGRADE_PLAN = "individual_pro"


@dataclass(frozen=True)
class Team:
    org_id: str
    slug: str
    admin_id: str


async def open_team(platform: Platform, fleet: Fleet, *, seats_wanted: int) -> Team:
    """A team org on `professional` with a link of `seats_wanted` uses, known to invites."""
    admin_id, _ = await sign_up(fleet)
    token = await bearer_token(fleet, admin_id)
    created = await call_service(
        fleet, "workspace", "POST", "/v1/orgs", token=token, json={"name": "Chaos Sales", "slug": new_slug()}
    )
    assert created.status_code == 201, created.text
    org_id = str(created.json()["id"])
    await billing_knows(platform, org_id, timeout=60)
    subscription = subscription_object(org_id=org_id, plan=TEAM_PLAN, customer=f"cus_{uuid.uuid4().hex[:12]}")
    upgraded = await post_stripe(fleet, stripe_event("customer.subscription.created", subscription))
    assert upgraded.status_code == 200 and upgraded.json()["status"] == "processed", upgraded.text
    invites = database_url(platform.database_url, "invites")
    await eventually(
        lambda: fetch(invites, "SELECT plan FROM org_seats WHERE org_id = $1", uuid.UUID(org_id)),
        until=lambda rows: bool(rows) and rows[0]["plan"] == TEAM_PLAN,
        what="invites knows the team's 50 seats",
        timeout=60,
    )
    link = await call_service(
        fleet,
        "invites",
        "POST",
        f"/v1/orgs/{org_id}/invitation-links",
        token=token,
        json={"role": "trainee", "max_uses": seats_wanted},
    )
    assert link.status_code == 201, link.text
    return Team(org_id, str(link.json()["slug"]), admin_id)


def invited_deliveries(team: Team, count: int) -> list[Delivery]:
    """`count` signups carrying the team link's slug (Clerk's `pending_invitation`)."""
    deliveries = []
    for _ in range(count):
        user_id = new_user_id()
        payload = clerk_user_created(
            user_id=user_id, email=f"{user_id}@example.com", first_name="Lin", pending_invitation=team.slug
        )
        deliveries.append(Delivery(user_id, f"msg_{uuid.uuid4().hex}", json.dumps(payload).encode()))
    return deliveries


async def invited_not_exactly_once(
    platform: Platform, team: Team, user_ids: Sequence[str], *, timeout: float = 90
) -> dict[str, str]:
    """Poll until each invited user is in the team exactly once with claims on it and no personal
    org; what is still wrong at the deadline."""
    workspace = database_url(platform.database_url, "workspace")
    identity = database_url(platform.database_url, "identity")
    ids = list(user_ids)

    async def problems() -> dict[str, str]:
        members, personal, claims = await asyncio.gather(
            fetch(
                workspace,
                "SELECT user_id, count(*) AS n FROM memberships WHERE org_id = $1 AND user_id = ANY($2)"
                " GROUP BY user_id",
                uuid.UUID(team.org_id),
                ids,
            ),
            fetch(workspace, "SELECT personal_user_id FROM orgs WHERE personal_user_id = ANY($1)", ids),
            fetch(identity, "SELECT user_id, active_org_id FROM user_claims WHERE user_id = ANY($1)", ids),
        )
        joined = {row["user_id"]: row["n"] for row in members}
        with_personal = {row["personal_user_id"] for row in personal}
        on_team = {row["user_id"] for row in claims if str(row["active_org_id"]) == team.org_id}
        found = {}
        for user in ids:
            wrong = [f"{joined.get(user, 0)} team memberships"] if joined.get(user, 0) != 1 else []
            wrong += ["a personal org"] if user in with_personal else []
            wrong += ["claims not on the team"] if user not in on_team else []
            if wrong:
                found[user] = ", ".join(wrong)
        return found

    return await problems_left(problems, timeout=timeout)


@dataclass
class Upgrades:
    """Personal orgs upgraded during the run: user id → org id, and what went wrong sending."""

    orgs: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


async def upgrade_some(
    platform: Platform,
    fleet: Fleet,
    accepted: list[str],
    *,
    count: int,
    deadline: float,
    skip: Collection[str] = (),
) -> Upgrades:
    """While the burst runs: take accepted signups (not in `skip`) as they come and upgrade
    `count` of them, each webhook sent twice and retried until answered 200 (Stripe retries a 5xx)."""
    upgrades = Upgrades()
    workspace = database_url(platform.database_url, "workspace")
    taken = 0
    while len(upgrades.orgs) < count and time.monotonic() < deadline:
        if taken >= len(accepted):
            await asyncio.sleep(0.2)  # the burst has not accepted more yet
            continue
        user_id = accepted[taken]
        taken += 1
        if user_id in skip:
            continue

        async def personal_org(user: str = user_id) -> list[Any]:
            return await fetch(workspace, "SELECT id::text FROM orgs WHERE personal_user_id = $1", user)

        rows = await eventually(
            personal_org,
            until=bool,
            what=f"{user_id}'s personal org",
            timeout=max(deadline - time.monotonic(), 1),
            interval=0.2,
        )
        org_id = rows[0]["id"]
        # Stripe only ever sends a subscription for an org that went through billing's checkout,
        # so billing knows it by then; an event for an org billing has not met is ignored.
        await billing_knows(platform, org_id, timeout=max(deadline - time.monotonic(), 1))
        event = stripe_event(
            "customer.subscription.created",
            subscription_object(org_id=org_id, plan=UPGRADE_PLAN, customer=f"cus_{uuid.uuid4().hex[:12]}"),
        )
        # Stripe delivers at least once: the second delivery must be a duplicate.
        for expected in ("processed", "duplicate"):
            status = await _post_until_answered(fleet, event, deadline=deadline)
            if status != expected:
                upgrades.failures.append(f"{org_id}: webhook answered {status!r}, expected {expected!r}")
        upgrades.orgs[user_id] = org_id
    return upgrades


async def billing_knows(platform: Platform, org_id: str, *, timeout: float) -> None:
    """Until billing has the org's subscription row (it learnt of the org from `org.created`)."""
    billing = database_url(platform.database_url, "billing")
    await eventually(
        lambda: fetch(billing, "SELECT 1 FROM subscriptions WHERE org_id = $1", org_id),
        until=bool,
        what=f"billing knows org {org_id}",
        timeout=timeout,
        interval=0.2,
    )


async def _post_until_answered(fleet: Fleet, event: dict[str, object], *, deadline: float) -> str | None:
    """Send until answered 200 (a 5xx or a refused connection is what Stripe retries); its status."""
    backoff = 0.2
    while time.monotonic() < deadline:
        try:
            response = await post_stripe(fleet, event)
            if response.status_code == 200:
                return str(response.json()["status"])
        except httpx.HTTPError:
            pass
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, 2.0)
    return None


async def upgrades_not_exactly_once(
    platform: Platform, upgrades: Upgrades, *, timeout: float = 90
) -> dict[str, str]:
    """Poll until each upgraded org was announced exactly twice (start + upgrade) and its user's
    claims show the new plan; what is still wrong at the deadline."""
    billing = database_url(platform.database_url, "billing")
    identity = database_url(platform.database_url, "identity")
    orgs = list(upgrades.orgs.values())

    async def problems() -> dict[str, str]:
        announced, plans = await asyncio.gather(
            fetch(
                billing,
                "SELECT key, count(*) AS n FROM outbox WHERE key = ANY($1)"
                " AND event_type = 'subscription.changed' GROUP BY key",
                orgs,
            ),
            fetch(
                identity,
                "SELECT c.user_id, p.plan FROM user_claims c"
                " JOIN org_plan_views p ON p.org_id = c.active_org_id WHERE c.user_id = ANY($1)",
                list(upgrades.orgs),
            ),
        )
        times = {row["key"]: row["n"] for row in announced}
        plan_of = {row["user_id"]: row["plan"] for row in plans}
        found = {}
        for user, org in upgrades.orgs.items():
            wrong = [f"{times.get(org, 0)} subscription states announced"] if times.get(org, 0) != 2 else []
            wrong += [f"claims on {plan_of.get(user)!r}"] if plan_of.get(user) != UPGRADE_PLAN else []
            if wrong:
                found[user] = ", ".join(wrong)
        return found

    return await problems_left(problems, timeout=timeout)
