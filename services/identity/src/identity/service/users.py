"""Mirroring the auth provider's users, announcing each real change on `identity.users`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import literal_column
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from identity.models import AuthDelivery, User
from identity.schemas import ClerkDeletedUser, ClerkUser
from shared.events.schemas.identity import UserCreated, UserDeleted, UserUpdated
from shared.outbox import record_event

SOURCE = "identity"


# The webhook's two inserts, built once (per-request statement building showed in the profile).
_INSERT_DELIVERY = (
    insert(AuthDelivery.__table__)  # type: ignore[attr-defined]
    .on_conflict_do_nothing(index_elements=["svix_id"])
    .returning(col(AuthDelivery.svix_id))
)
_INSERT_USER = (
    insert(User.__table__)  # type: ignore[attr-defined]
    .on_conflict_do_nothing(index_elements=["id"])
    .returning(col(User.id))
)


async def record_delivery(
    session: AsyncSession, *, delivery_id: str, event_type: str, payload: dict[str, Any]
) -> bool:
    """Store a verified delivery; False if this delivery id was seen before (a replay)."""
    values = {"svix_id": delivery_id, "event_type": event_type, "payload": payload}
    return (await session.execute(_INSERT_DELIVERY, values)).first() is not None


def _user_values(user: ClerkUser) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.primary_email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "image_url": user.image_url,
        "pending_invitation": user.pending_invitation,
        "provider_updated_at": user.updated_at,
    }


async def create_user(session: AsyncSession, *, user: ClerkUser) -> bool:
    """Insert a new user and announce `user.created`; False if the user already existed."""
    if (await session.execute(_INSERT_USER, _user_values(user))).first() is None:
        return False
    await _announce_created(session, user=user)
    return True


async def update_user(session: AsyncSession, *, user: ClerkUser) -> str:
    """Apply a newer profile; returns "created", "updated" or "stale" (older than what we have)."""
    values = _user_values(user)
    values.pop("pending_invitation")
    upsert = insert(User).values(**values)
    statement: Any = upsert.on_conflict_do_update(
        index_elements=["id"],
        set_={name: getattr(upsert.excluded, name) for name in values if name != "id"},
        where=(col(User.provider_updated_at) < upsert.excluded.provider_updated_at)
        & col(User.deleted_at).is_(None),
    ).returning(literal_column("xmax = 0").label("inserted"))
    row = (await session.execute(statement)).first()
    if row is None:
        return "stale"
    if row.inserted:
        # An update that overtook its user.created: the user is new to us all the same.
        await _announce_created(session, user=user)
        return "created"
    await record_event(
        session,
        source=SOURCE,
        subject=user.id,
        data=UserUpdated(**_profile(user)),
    )
    return "updated"


async def delete_user(session: AsyncSession, *, user: ClerkDeletedUser) -> bool:
    """Tombstone the user (kept, so a late `user.created` cannot revive it); True if it was live."""
    statement = (
        insert(User)  # type: ignore[var-annotated]
        .values(id=user.id, provider_updated_at=0, deleted_at=literal_column("now()"))
        .on_conflict_do_update(
            index_elements=["id"],
            set_={"deleted_at": literal_column("now()")},
            where=col(User.deleted_at).is_(None),
        )
        .returning(literal_column("xmax = 0").label("inserted"))
    )
    row = (await session.execute(statement)).first()
    if row is None or row.inserted:
        return False
    await record_event(session, source=SOURCE, subject=user.id, data=UserDeleted(user_id=user.id))
    return True


async def _announce_created(session: AsyncSession, *, user: ClerkUser) -> None:
    await record_event(
        session,
        source=SOURCE,
        subject=user.id,
        data=UserCreated(**_profile(user), pending_invitation=user.pending_invitation),
    )


def _profile(user: ClerkUser) -> dict[str, Any]:
    """The profile fields `user.created` and `user.updated` both announce."""
    return {
        "user_id": user.id,
        "email": user.primary_email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "image_url": user.image_url,
    }
