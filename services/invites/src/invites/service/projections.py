"""What invites knows of other services, kept from their events: orgs (kind, name), memberships,
seat limits (billing's `subscription.changed`) and users' email addresses.

Every signup brings an `org.created`, a `membership.added` and a `subscription.changed` for its
personal org, so these handlers take runs of events and write each table with one statement.
Personal orgs only need their kind and owner (to answer `personal_org`): their memberships and
seats are not kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import BigInteger, Integer, Text, Uuid

from shared.db.tenancy import set_tenant, set_tenants

_UPSERT_ORGS = text(
    "INSERT INTO org_views (org_id, name, kind, owner_user_id) "
    "SELECT * FROM unnest(:org_ids, :names, :kinds, :owners) "
    "ON CONFLICT (org_id) DO UPDATE SET name = excluded.name, kind = excluded.kind, "
    "owner_user_id = excluded.owner_user_id"
).bindparams(
    bindparam("org_ids", type_=ARRAY(Uuid())),
    bindparam("names", type_=ARRAY(Text())),
    bindparam("kinds", type_=ARRAY(Text())),
    bindparam("owners", type_=ARRAY(Text())),
)
_ENSURE_SEATS = text(
    "INSERT INTO org_seats (org_id) SELECT * FROM unnest(:org_ids) ON CONFLICT (org_id) DO NOTHING"
).bindparams(bindparam("org_ids", type_=ARRAY(Uuid())))
_UPSERT_MEMBERS = text(
    "INSERT INTO member_views (org_id, user_id, role) SELECT * FROM unnest(:org_ids, :user_ids, :roles) "
    "ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role"
).bindparams(
    bindparam("org_ids", type_=ARRAY(Uuid())),
    bindparam("user_ids", type_=ARRAY(Text())),
    bindparam("roles", type_=ARRAY(Text())),
)
_UPSERT_USERS = text(
    "INSERT INTO user_views (user_id, email) SELECT * FROM unnest(:user_ids, :emails) "
    "ON CONFLICT (user_id) DO UPDATE SET email = COALESCE(excluded.email, user_views.email)"
).bindparams(bindparam("user_ids", type_=ARRAY(Text())), bindparam("emails", type_=ARRAY(Text())))
# A newer version only: an older subscription.changed arriving late changes nothing.
_APPLY_SEATS = text(
    "INSERT INTO org_seats (org_id, seats, plan, version) "
    "SELECT * FROM unnest(:org_ids, :seats, :plans, :versions) "
    "ON CONFLICT (org_id) DO UPDATE SET seats = excluded.seats, plan = excluded.plan, "
    "version = excluded.version WHERE org_seats.version < excluded.version"
).bindparams(
    bindparam("org_ids", type_=ARRAY(Uuid())),
    bindparam("seats", type_=ARRAY(Integer())),
    bindparam("plans", type_=ARRAY(Text())),
    bindparam("versions", type_=ARRAY(BigInteger())),
)


@dataclass(frozen=True)
class OrgFact:
    org_id: str
    name: str
    kind: str
    owner_user_id: str | None


@dataclass(frozen=True)
class MemberFact:
    org_id: str
    user_id: str
    role: str


@dataclass(frozen=True)
class SeatFact:
    org_id: str
    seats: int | None
    plan: str
    version: int


def normalize_email(email: str | None) -> str | None:
    """The form invitations are bound to: trimmed, lower case."""
    if email is None:
        return None
    cleaned = email.strip().lower()
    return cleaned or None


async def record_orgs(session: AsyncSession, *, orgs: Sequence[OrgFact]) -> None:
    """Orgs were created or converted: their name, kind and owner; team orgs get a seat row."""
    latest = {org.org_id: org for org in orgs}  # one row per org per statement, the last word wins
    if not latest:
        return
    await set_tenants(session, latest)
    await session.execute(
        _UPSERT_ORGS,
        {
            "org_ids": [uuid.UUID(org_id) for org_id in latest],
            "names": [o.name for o in latest.values()],
            "kinds": [o.kind for o in latest.values()],
            "owners": [o.owner_user_id for o in latest.values()],
        },
    )
    teams = [org_id for org_id, org in latest.items() if org.kind == "team"]
    if teams:
        await session.execute(_ENSURE_SEATS, {"org_ids": [uuid.UUID(org_id) for org_id in teams]})


async def record_archived(session: AsyncSession, *, org_id: str, archived: bool) -> None:
    """An org was archived or restored."""
    await set_tenant(session, org_id)
    await session.execute(
        text("UPDATE org_views SET archived = :archived WHERE org_id = :org_id"),
        {"org_id": org_id, "archived": archived},
    )


async def record_members(session: AsyncSession, *, members: Sequence[MemberFact]) -> None:
    """Memberships were added or their role changed (workspace's word is final)."""
    latest = {(m.org_id, m.user_id): m for m in members}
    if not latest:
        return
    await set_tenants(session, {org_id for org_id, _ in latest})
    await session.execute(
        _UPSERT_MEMBERS,
        {
            "org_ids": [uuid.UUID(org_id) for org_id, _ in latest],
            "user_ids": [user_id for _, user_id in latest],
            "roles": [m.role for m in latest.values()],
        },
    )


async def forget_member(session: AsyncSession, *, org_id: str, user_id: str) -> None:
    """A membership ended: the seat is free again."""
    await set_tenant(session, org_id)
    await session.execute(
        text("DELETE FROM member_views WHERE org_id = :org_id AND user_id = :user_id"),
        {"org_id": org_id, "user_id": user_id},
    )


async def record_seat_limits(session: AsyncSession, *, limits: Sequence[SeatFact]) -> None:
    """Orgs' plans changed: keep each one's seat limit (None = unlimited) from its newest version."""
    newest: dict[str, SeatFact] = {}
    for fact in limits:
        if fact.org_id not in newest or newest[fact.org_id].version < fact.version:
            newest[fact.org_id] = fact
    if not newest:
        return
    await set_tenants(session, newest)
    await session.execute(
        _APPLY_SEATS,
        {
            "org_ids": [uuid.UUID(org_id) for org_id in newest],
            "seats": [f.seats for f in newest.values()],
            "plans": [f.plan for f in newest.values()],
            "versions": [f.version for f in newest.values()],
        },
    )


async def record_users(session: AsyncSession, *, users: Sequence[tuple[str, str | None]]) -> None:
    """Remember users' (normalized) email addresses, for email invitations (one statement)."""
    latest = {user_id: normalize_email(email) for user_id, email in users}
    if not latest:
        return
    await session.execute(_UPSERT_USERS, {"user_ids": list(latest), "emails": list(latest.values())})
