"""The user projection: what workspace knows of users, from `identity.users`."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.schemas.identity import UserCreated, UserUpdated
from workspace.models import MemberProfile

_PROFILES = MemberProfile.__table__  # type: ignore[attr-defined]


async def remember_new_user(session: AsyncSession, *, user: UserCreated) -> bool:
    """Record a newly created user; False if workspace already knew them (a late redelivery)."""
    statement = (
        insert(_PROFILES)
        .values(id=user.user_id, email=user.email, first_name=user.first_name, last_name=user.last_name)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(_PROFILES.c.id)
    )
    return (await session.execute(statement)).first() is not None


async def update_user(session: AsyncSession, *, user: UserUpdated) -> None:
    """Keep the user's email and names current (creates the row if user.created was never seen)."""
    values = {"email": user.email, "first_name": user.first_name, "last_name": user.last_name}
    statement = insert(_PROFILES).values(id=user.user_id, **values)
    await session.execute(statement.on_conflict_do_update(index_elements=["id"], set_=values))


async def forget_user(session: AsyncSession, *, user_id: str) -> None:
    """Mark the user deleted (the row stays, so a late user.created cannot provision them again)."""
    statement = insert(_PROFILES).values(id=user_id, deleted_at=func.now())
    await session.execute(
        statement.on_conflict_do_update(index_elements=["id"], set_={"deleted_at": func.now()})
    )
