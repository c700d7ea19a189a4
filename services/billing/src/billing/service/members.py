"""billing's projection of memberships (from `workspace.orgs`): seats in use, and who may buy."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Text, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.tenancy import set_tenant, set_tenants

_UPSERT = text(
    "INSERT INTO members (org_id, user_id, role) VALUES (:org_id, :user_id, :role) "
    "ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role"
)
_UPSERT_MANY = text(
    "INSERT INTO members (org_id, user_id, role) SELECT * FROM unnest(:org_ids, :user_ids, :roles) "
    "ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role"
).bindparams(*(bindparam(name, type_=ARRAY(Text())) for name in ("org_ids", "user_ids", "roles")))
_REMOVE = text("DELETE FROM members WHERE org_id = :org_id AND user_id = :user_id")
_ROLE = text("SELECT role FROM members WHERE org_id = :org_id AND user_id = :user_id")
_COUNT = text("SELECT count(*) FROM members WHERE org_id = :org_id")


async def record_member(session: AsyncSession, *, org_id: str, user_id: str, role: str) -> None:
    """A member joined the org, or their role changed (the newest event per org wins: one key)."""
    await set_tenant(session, org_id)
    await session.execute(_UPSERT, {"org_id": org_id, "user_id": user_id, "role": role})


async def record_members(session: AsyncSession, *, members: Sequence[tuple[str, str, str]]) -> None:
    """Members `(org id, user id, role)` joined, in order (one statement for a run of signups)."""
    latest = {(org_id, user_id): role for org_id, user_id, role in members}  # the last word wins
    if not latest:
        return
    await set_tenants(session, {org_id for org_id, _ in latest})
    await session.execute(
        _UPSERT_MANY,
        {
            "org_ids": [org_id for org_id, _ in latest],
            "user_ids": [user_id for _, user_id in latest],
            "roles": list(latest.values()),
        },
    )


async def forget_member(session: AsyncSession, *, org_id: str, user_id: str) -> None:
    """A member left or was removed."""
    await set_tenant(session, org_id)
    await session.execute(_REMOVE, {"org_id": org_id, "user_id": user_id})


async def member_role(session: AsyncSession, *, org_id: str, user_id: str) -> str | None:
    """The user's role in the org, None if they are not a member."""
    await set_tenant(session, org_id)
    role: str | None = (await session.execute(_ROLE, {"org_id": org_id, "user_id": user_id})).scalar()
    return role


async def count_members(session: AsyncSession, *, org_id: str) -> int:
    await set_tenant(session, org_id)
    return int((await session.execute(_COUNT, {"org_id": org_id})).scalar_one())
