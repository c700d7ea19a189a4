"""Was every signup provisioned exactly once? Counted per user in each service's own database.

One user row, one personal org, one membership, one subscription for that org, one claims
record, and claims that are complete (active org = the personal org, its plan known). Used by
the chaos and replica tests and by `python -m devstack.chaos`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from devstack.postgres import database_url
from devstack.sql import fetch


@dataclass(frozen=True)
class Provisioning:
    """What the databases hold for one user."""

    users: int = 0
    personal_orgs: int = 0
    memberships: int = 0
    subscriptions: int = 0
    claims: int = 0
    claims_org_is_personal: bool = False
    plan: str | None = None

    def problem(self, *, plan: str) -> str | None:
        """What is not exactly once (or not complete) for this user; None when all is right."""
        counts = {
            "users": self.users,
            "personal orgs": self.personal_orgs,
            "memberships": self.memberships,
            "subscriptions": self.subscriptions,
            "claims": self.claims,
        }
        wrong = [f"{count} {what}" for what, count in counts.items() if count != 1]
        if not self.claims_org_is_personal:
            wrong.append("claims not on the personal org")
        if self.plan != plan:
            wrong.append(f"plan {self.plan!r}")
        return ", ".join(wrong) or None


async def provisioning_of(server_url: str, user_ids: Sequence[str]) -> dict[str, Provisioning]:
    """Per-user counts, each service's tables read directly (as the superuser: RLS does not apply)."""
    ids = list(user_ids)
    identity, workspace, billing = (
        database_url(server_url, name) for name in ("identity", "workspace", "billing")
    )
    users, claims, orgs, memberships = await asyncio.gather(
        fetch(identity, "SELECT id, count(*) AS n FROM users WHERE id = ANY($1) GROUP BY id", ids),
        fetch(
            identity,
            "SELECT c.user_id, count(*) AS n, max(c.active_org_id) AS org_id, max(p.plan) AS plan"
            " FROM user_claims c LEFT JOIN org_plan_views p ON p.org_id = c.active_org_id"
            " WHERE c.user_id = ANY($1) GROUP BY c.user_id",
            ids,
        ),
        fetch(
            workspace,
            "SELECT personal_user_id, count(*) AS n, max(id::text) AS org_id FROM orgs"
            " WHERE personal_user_id = ANY($1) GROUP BY personal_user_id",
            ids,
        ),
        fetch(
            workspace,
            "SELECT user_id, count(*) AS n FROM memberships WHERE user_id = ANY($1) GROUP BY user_id",
            ids,
        ),
    )
    org_of = {row["personal_user_id"]: row["org_id"] for row in orgs}
    subscriptions = await fetch(
        billing,
        "SELECT org_id, count(*) AS n FROM subscriptions WHERE org_id = ANY($1) GROUP BY org_id",
        list(org_of.values()),
    )
    user_count = {row["id"]: row["n"] for row in users}
    org_count = {row["personal_user_id"]: row["n"] for row in orgs}
    membership_count = {row["user_id"]: row["n"] for row in memberships}
    subscription_count = {row["org_id"]: row["n"] for row in subscriptions}
    claims_of = {row["user_id"]: row for row in claims}
    result = {}
    for user_id in ids:
        claim = claims_of.get(user_id)
        org_id = org_of.get(user_id)
        result[user_id] = Provisioning(
            users=user_count.get(user_id, 0),
            personal_orgs=org_count.get(user_id, 0),
            memberships=membership_count.get(user_id, 0),
            subscriptions=subscription_count.get(org_id, 0) if org_id else 0,
            claims=claim["n"] if claim else 0,
            claims_org_is_personal=bool(claim and org_id and claim["org_id"] == org_id),
            plan=claim["plan"] if claim else None,
        )
    return result


async def not_exactly_once(
    server_url: str, user_ids: Sequence[str], *, plan: str = "individual_free", timeout: float = 60
) -> dict[str, str]:
    """Poll until every user is provisioned exactly once; what is still wrong at the deadline.

    An empty answer means: every user has exactly one of everything, and complete claims.
    """

    async def problems() -> dict[str, str]:
        found = await provisioning_of(server_url, user_ids)
        return {user: problem for user, state in found.items() if (problem := state.problem(plan=plan))}

    return await problems_left(problems, timeout=timeout)


async def problems_left(
    check: Callable[[], Awaitable[dict[str, str]]], *, timeout: float, interval: float = 0.25
) -> dict[str, str]:
    """Run `check` until it finds no problem or `timeout` passes; the problems it found last."""
    deadline = time.monotonic() + timeout
    while True:
        problems = await check()
        if not problems or time.monotonic() > deadline:
            return problems
        await asyncio.sleep(interval)
