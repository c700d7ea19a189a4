"""The user projection: what workspace knows of users, from `identity.users`."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Boolean, Text, bindparam, func, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import InvalidToken
from shared.events.schemas.identity import UserCreated, UserUpdated
from workspace.models import MemberProfile

_PROFILES = MemberProfile.__table__  # type: ignore[attr-defined]


# Built once: one statement for a whole batch of signups.
_REMEMBER_NEW_USERS = text(
    "INSERT INTO member_profiles (id, email, first_name, last_name, email_verified) "
    "SELECT * FROM unnest(:ids, :emails, :first_names, :last_names, :verified) "
    "ON CONFLICT (id) DO NOTHING RETURNING id"
).bindparams(
    *(bindparam(name, type_=ARRAY(Text())) for name in ("ids", "emails", "first_names", "last_names")),
    bindparam("verified", type_=ARRAY(Boolean())),
)
_NOTE_SIGNUPS = text(
    "UPDATE member_profiles SET signup_note = n.note FROM unnest(:ids, :notes) AS n(id, note) "
    "WHERE member_profiles.id = n.id"
).bindparams(bindparam("ids", type_=ARRAY(Text())), bindparam("notes", type_=ARRAY(Text())))


# FOR SHARE: a user.deleted handled meanwhile (it updates the row) waits for this write to commit,
# then removes what it wrote; a deletion committed first is seen here.
_DELETED = text("SELECT deleted_at IS NOT NULL FROM member_profiles WHERE id = :user_id FOR SHARE")


async def refuse_deleted_user(session: AsyncSession, *, user_id: str) -> None:
    """A write by a user identity announced deleted is refused (401 `invalid_token`): their
    tokens, minted before the deletion, no longer speak for anyone (docs/workspaces.md)."""
    if (await session.execute(_DELETED, {"user_id": user_id})).scalar_one_or_none():
        raise InvalidToken("the token's user has been deleted")


async def remember_new_users(session: AsyncSession, *, users: Sequence[UserCreated]) -> set[str]:
    """Record newly created users; returns the ids workspace did not know (not a late redelivery)."""
    if not users:
        return set()
    values = {
        "ids": [user.user_id for user in users],
        "emails": [user.email for user in users],
        "first_names": [user.first_name for user in users],
        "last_names": [user.last_name for user in users],
        "verified": [user.email_verified for user in users],
    }
    return {row[0] for row in await session.execute(_REMEMBER_NEW_USERS, values)}


async def note_signups(session: AsyncSession, *, notes: dict[str, str]) -> None:
    """Record why each of these new users' signup went as it did (shown by `devstack trace`)."""
    if notes:
        await session.execute(_NOTE_SIGNUPS, {"ids": list(notes), "notes": list(notes.values())})


async def update_user(session: AsyncSession, *, user: UserUpdated) -> None:
    """Keep the user's email and names current (creates the row if user.created was never seen)."""
    values = {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email_verified": user.email_verified,
    }
    statement = insert(_PROFILES).values(id=user.user_id, **values)
    await session.execute(statement.on_conflict_do_update(index_elements=["id"], set_=values))


async def forget_user(session: AsyncSession, *, user_id: str) -> None:
    """Mark the user deleted (the row stays, so a late user.created cannot provision them again)."""
    statement = insert(_PROFILES).values(id=user_id, deleted_at=func.now())
    await session.execute(
        statement.on_conflict_do_update(index_elements=["id"], set_={"deleted_at": func.now()})
    )
