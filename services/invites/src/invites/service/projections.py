"""What invites knows of other services, kept from their events: orgs (kind, name), memberships,
seat limits (billing's `subscription.changed`) and users' email addresses."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Text

from shared.db.tenancy import set_tenant

_UPSERT_ORG = text(
    "INSERT INTO org_views (org_id, name, kind) VALUES (:org_id, :name, :kind) "
    "ON CONFLICT (org_id) DO UPDATE SET name = excluded.name, kind = excluded.kind"
)
_ENSURE_SEATS = text("INSERT INTO org_seats (org_id) VALUES (:org_id) ON CONFLICT (org_id) DO NOTHING")
_UPSERT_MEMBER = text(
    "INSERT INTO member_views (org_id, user_id, role) VALUES (:org_id, :user_id, :role) "
    "ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role"
)
_UPSERT_USERS = text(
    "INSERT INTO user_views (user_id, email) SELECT * FROM unnest(:user_ids, :emails) "
    "ON CONFLICT (user_id) DO UPDATE SET email = COALESCE(excluded.email, user_views.email)"
).bindparams(bindparam("user_ids", type_=ARRAY(Text())), bindparam("emails", type_=ARRAY(Text())))
# A newer version only: an older subscription.changed arriving late changes nothing.
_APPLY_SEATS = text(
    "INSERT INTO org_seats (org_id, seats, plan, version) VALUES (:org_id, :seats, :plan, :version) "
    "ON CONFLICT (org_id) DO UPDATE SET seats = excluded.seats, plan = excluded.plan, "
    "version = excluded.version WHERE org_seats.version < excluded.version"
)


def normalize_email(email: str | None) -> str | None:
    """The form invitations are bound to: trimmed, lower case."""
    if email is None:
        return None
    cleaned = email.strip().lower()
    return cleaned or None


async def record_org(session: AsyncSession, *, org_id: str, name: str, kind: str) -> None:
    """An org was created or converted: remember its name and kind, and give it a seat row."""
    await set_tenant(session, org_id)
    await session.execute(_UPSERT_ORG, {"org_id": org_id, "name": name, "kind": kind})
    await session.execute(_ENSURE_SEATS, {"org_id": org_id})


async def record_archived(session: AsyncSession, *, org_id: str, archived: bool) -> None:
    """An org was archived or restored."""
    await set_tenant(session, org_id)
    await session.execute(
        text("UPDATE org_views SET archived = :archived WHERE org_id = :org_id"),
        {"org_id": org_id, "archived": archived},
    )


async def record_member(session: AsyncSession, *, org_id: str, user_id: str, role: str) -> None:
    """A membership was added or its role changed (workspace's word is final)."""
    await set_tenant(session, org_id)
    await session.execute(_UPSERT_MEMBER, {"org_id": org_id, "user_id": user_id, "role": role})


async def forget_member(session: AsyncSession, *, org_id: str, user_id: str) -> None:
    """A membership ended: the seat is free again."""
    await set_tenant(session, org_id)
    await session.execute(
        text("DELETE FROM member_views WHERE org_id = :org_id AND user_id = :user_id"),
        {"org_id": org_id, "user_id": user_id},
    )


async def record_seat_limit(
    session: AsyncSession, *, org_id: str, seats: int | None, plan: str, version: int
) -> None:
    """The org's plan changed: keep its seat limit (None = unlimited) if this version is newer."""
    await set_tenant(session, org_id)
    await session.execute(_APPLY_SEATS, {"org_id": org_id, "seats": seats, "plan": plan, "version": version})


async def record_users(session: AsyncSession, *, users: Sequence[tuple[str, str | None]]) -> None:
    """Remember users' (normalized) email addresses, for email invitations (one statement)."""
    if not users:
        return
    await session.execute(
        _UPSERT_USERS,
        {"user_ids": [user_id for user_id, _ in users], "emails": [normalize_email(e) for _, e in users]},
    )
