"""Claims: which org, role and plan a user's tokens speak for, kept current from events.

`membership_views` is under row-level security: each function here first scopes its transaction
to the users (or the org) it reads and writes (identity.service.scope)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Boolean, Text, bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from identity.errors import NotAMember, UserNotFound
from identity.models import MembershipView, User, UserClaims
from identity.schemas import ClaimsRead
from identity.service.scope import scope_to
from shared.db.driver import driver_sql

# Built once, one statement per table for a whole run of events (signups come in bursts).
_UPSERT_MEMBERSHIPS = text(
    "INSERT INTO membership_views (user_id, org_id, role, is_personal_org) "
    "SELECT * FROM unnest(:user_ids, :org_ids, :roles, :personal) "
    "ON CONFLICT (user_id, org_id) DO UPDATE "
    "SET role = excluded.role, is_personal_org = excluded.is_personal_org"
).bindparams(
    bindparam("user_ids", type_=ARRAY(Text())),
    bindparam("org_ids", type_=ARRAY(Text())),
    bindparam("roles", type_=ARRAY(Text())),
    bindparam("personal", type_=ARRAY(Boolean())),
)
# A user's first membership becomes their active org: the first of the run wins, in order.
_FIRST_ACTIVE_ORGS = text(
    "INSERT INTO user_claims (user_id, active_org_id) "
    "SELECT new.user_id, new.org_id FROM unnest(:user_ids, :org_ids) WITH ORDINALITY "
    "AS new(user_id, org_id, n) ORDER BY new.n "
    "ON CONFLICT (user_id) DO NOTHING"
).bindparams(bindparam("user_ids", type_=ARRAY(Text())), bindparam("org_ids", type_=ARRAY(Text())))
_UPSERT_NEWER_PLANS = text(
    "INSERT INTO org_plan_views (org_id, plan, version) "
    "SELECT * FROM unnest(:org_ids, :plans, :versions) "
    "ON CONFLICT (org_id) DO UPDATE SET plan = excluded.plan, version = excluded.version "
    "WHERE org_plan_views.version < excluded.version"
).bindparams(
    bindparam("org_ids", type_=ARRAY(Text())),
    bindparam("plans", type_=ARRAY(Text())),
    bindparam("versions", type_=ARRAY(BigInteger())),
)


@dataclass(frozen=True)
class MembershipFact:
    user_id: str
    org_id: str
    role: str
    is_personal_org: bool


@dataclass(frozen=True)
class OrgPlanFact:
    org_id: str
    plan: str
    version: int


async def add_memberships(session: AsyncSession, *, memberships: Sequence[MembershipFact]) -> None:
    """Project memberships, in order; a user's first membership becomes their active org."""
    if not memberships:
        return
    # One statement may not update a row twice: the last word on a (user, org) pair wins.
    latest = list({(m.user_id, m.org_id): m for m in memberships}.values())
    await scope_to(session, users=[m.user_id for m in latest])
    await session.execute(
        _UPSERT_MEMBERSHIPS,
        {
            "user_ids": [m.user_id for m in latest],
            "org_ids": [m.org_id for m in latest],
            "roles": [m.role for m in latest],
            "personal": [m.is_personal_org for m in latest],
        },
    )
    await session.execute(
        _FIRST_ACTIVE_ORGS,
        {"user_ids": [m.user_id for m in memberships], "org_ids": [m.org_id for m in memberships]},
    )


async def set_org_plans(session: AsyncSession, *, plans: Sequence[OrgPlanFact]) -> None:
    """Project orgs' plans, keeping only the newest version of each (events may come late)."""
    if not plans:
        return
    newest: dict[str, OrgPlanFact] = {}
    for fact in plans:
        if fact.org_id not in newest or newest[fact.org_id].version < fact.version:
            newest[fact.org_id] = fact
    await session.execute(
        _UPSERT_NEWER_PLANS,
        {
            "org_ids": list(newest),
            "plans": [fact.plan for fact in newest.values()],
            "versions": [fact.version for fact in newest.values()],
        },
    )


async def use_org(session: AsyncSession, *, user_id: str, org_id: str) -> None:
    """Make `org_id` the user's active org (what their tokens speak for by default)."""
    await _require_user(session, user_id=user_id)
    await scope_to(session, users=[user_id])
    # FOR SHARE: a removal of this membership waits for this transaction, then sees this org
    # active and falls back (else the user could be left active in an org they are not in).
    member = await session.execute(
        select(col(MembershipView.role))
        .where(col(MembershipView.user_id) == user_id, col(MembershipView.org_id) == org_id)
        .with_for_update(read=True)
    )
    if member.first() is None:
        raise NotAMember(f"user {user_id} is not a member of org {org_id}")
    await _set_active_org(session, user_id=user_id, org_id=org_id)


async def change_role(session: AsyncSession, *, user_id: str, org_id: str, role: str) -> None:
    """Project a role change (the user's next token carries it)."""
    await scope_to(session, users=[user_id])
    await session.execute(
        update(MembershipView)
        .where(col(MembershipView.user_id) == user_id, col(MembershipView.org_id) == org_id)
        .values(role=role)
    )


async def remove_membership(session: AsyncSession, *, user_id: str, org_id: str) -> None:
    """Drop a membership; if it was the active org, fall back to the personal org, else the oldest
    membership, else to no org at all (tokens are then refused with `not_provisioned`)."""
    await scope_to(session, users=[user_id])
    await session.execute(
        delete(MembershipView).where(
            col(MembershipView.user_id) == user_id, col(MembershipView.org_id) == org_id
        )
    )
    active_org_id = (
        await session.execute(
            select(col(UserClaims.active_org_id)).where(col(UserClaims.user_id) == user_id).with_for_update()
        )
    ).scalar_one_or_none()
    if active_org_id != org_id:
        return
    fallback = (
        await session.execute(
            select(col(MembershipView.org_id))
            .where(col(MembershipView.user_id) == user_id)
            .order_by(
                col(MembershipView.is_personal_org).desc(),
                col(MembershipView.added_at),
                col(MembershipView.org_id),
            )
            .limit(1)
        )
    ).scalar_one_or_none()
    if fallback is None:
        # No row: the next membership.added makes its org the active one again.
        await session.execute(delete(UserClaims).where(col(UserClaims.user_id) == user_id))
    else:
        await _set_active_org(session, user_id=user_id, org_id=fallback)


async def mark_org_converted(session: AsyncSession, *, org_id: str, owner_user_id: str) -> None:
    """A personal org became a team org: no member's claims call it personal, its owner is admin."""
    await scope_to(session, orgs=[org_id])
    await session.execute(
        update(MembershipView).where(col(MembershipView.org_id) == org_id).values(is_personal_org=False)
    )
    await change_role(session, user_id=owner_user_id, org_id=org_id, role="admin")


async def _require_user(session: AsyncSession, *, user_id: str) -> None:
    user = await session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise UserNotFound(f"no user {user_id}")


async def _set_active_org(session: AsyncSession, *, user_id: str, org_id: str) -> None:
    upsert = insert(UserClaims).values(user_id=user_id, active_org_id=org_id)
    await session.execute(
        upsert.on_conflict_do_update(
            index_elements=["user_id"],
            set_={"active_org_id": upsert.excluded.active_org_id, "updated_at": func.now()},
            where=col(UserClaims.active_org_id) != upsert.excluded.active_org_id,
        )
    )


# Revision 0008: the one definition of a user's claims, for the endpoint's read and for tokens.
_CLAIMS_OF = "SELECT * FROM claims_of($1)"


async def read_claims_in_one_call(pool: Any, *, user_id: str) -> ClaimsRead:
    """The user's claims in one call of `claims_of` on the plain pool (the endpoint's hot path:
    its own transaction, one round trip, no session)."""
    return _claims_from(user_id, await pool.fetchrow(_CLAIMS_OF, user_id))


async def get_claims(session: AsyncSession, *, user_id: str) -> ClaimsRead:
    """The user's current claims inside the session's transaction (a token minted with them sees
    its own `use_org`); org fields are null until their first membership arrives. `claims_of`
    scopes the transaction to this user, as `scope_to` would."""
    rows = await driver_sql(session, _CLAIMS_OF, user_id)
    return _claims_from(user_id, rows[0] if rows else None)


def _claims_from(user_id: str, row: Sequence[Any] | None) -> ClaimsRead:
    """A `claims_of` row (org id, role, personal, plan); no row: no such user, or deleted."""
    if row is None:
        raise UserNotFound(f"no user {user_id}")
    org_id, org_role, is_personal_org, plan = row
    return ClaimsRead(
        user_id=user_id, org_id=org_id, org_role=org_role, is_personal_org=is_personal_org, plan=plan
    )
