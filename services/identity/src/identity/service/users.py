"""Mirroring the auth provider's users, announcing each real change on `identity.users`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Text, bindparam, literal_column, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from identity.models import User
from identity.schemas import ClerkDeletedUser, ClerkUser
from shared.events.schemas.identity import UserCreated, UserDeleted, UserUpdated
from shared.outbox import NewEvent, record_event, record_events

SOURCE = "identity"


# The webhook's inserts, built once, one statement each for a whole group of deliveries.
_INSERT_DELIVERIES = text(
    "INSERT INTO auth_deliveries (svix_id, event_type, payload, traceparent) "
    "SELECT new.svix_id, new.event_type, new.payload::jsonb, new.traceparent "
    "FROM unnest(:svix_ids, :event_types, :payloads, :traceparents) "
    "WITH ORDINALITY AS new(svix_id, event_type, payload, traceparent, n) "
    "ORDER BY new.n ON CONFLICT (svix_id) DO NOTHING RETURNING svix_id"
).bindparams(
    bindparam("svix_ids", type_=ARRAY(Text())),
    bindparam("event_types", type_=ARRAY(Text())),
    bindparam("payloads", type_=ARRAY(Text())),
    bindparam("traceparents", type_=ARRAY(Text())),
)
_INSERT_USERS = text(
    "INSERT INTO users "
    "(id, email, first_name, last_name, image_url, pending_invitation, provider_updated_at) "
    "SELECT * FROM unnest(:ids, :emails, :first_names, :last_names, :image_urls, :invitations, :updated) "
    "ON CONFLICT (id) DO NOTHING RETURNING id"
).bindparams(
    *(
        bindparam(name, type_=ARRAY(Text()))
        for name in ("ids", "emails", "first_names", "last_names", "image_urls", "invitations")
    ),
    bindparam("updated", type_=ARRAY(BigInteger())),
)


@dataclass(frozen=True)
class NewUser:
    """A user from a `user.created` delivery, and the trace of the request that delivered it."""

    user: ClerkUser
    traceparent: str | None = None


async def record_deliveries(
    session: AsyncSession, *, deliveries: Sequence[tuple[str, str, str, str | None]]
) -> set[str]:
    """Store verified deliveries `(delivery id, event type, payload JSON, traceparent)`; returns the
    ids seen for the first time (a replayed id, or one given twice, is not among them twice)."""
    if not deliveries:
        return set()
    values = {
        "svix_ids": [delivery[0] for delivery in deliveries],
        "event_types": [delivery[1] for delivery in deliveries],
        "payloads": [delivery[2] for delivery in deliveries],
        "traceparents": [delivery[3] for delivery in deliveries],
    }
    return {row[0] for row in await session.execute(_INSERT_DELIVERIES, values)}


async def create_users(session: AsyncSession, *, users: Sequence[NewUser]) -> set[str]:
    """Insert new users and announce `user.created` for each; returns the ids created (a user who
    existed already is skipped)."""
    if not users:
        return set()
    rows = [_user_values(new.user) for new in users]
    values = {
        "ids": [row["id"] for row in rows],
        "emails": [row["email"] for row in rows],
        "first_names": [row["first_name"] for row in rows],
        "last_names": [row["last_name"] for row in rows],
        "image_urls": [row["image_url"] for row in rows],
        "invitations": [row["pending_invitation"] for row in rows],
        "updated": [row["provider_updated_at"] for row in rows],
    }
    created = {row[0] for row in await session.execute(_INSERT_USERS, values)}
    announced: set[str] = set()
    events = []
    for new in users:
        if new.user.id in created and new.user.id not in announced:
            announced.add(new.user.id)
            events.append(NewEvent(new.user.id, _created_event(new.user), traceparent=new.traceparent))
    await record_events(session, source=SOURCE, events=events)
    return created


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
    await record_event(session, source=SOURCE, subject=user.id, data=_created_event(user))


def _created_event(user: ClerkUser) -> UserCreated:
    return UserCreated(**_profile(user), pending_invitation=user.pending_invitation)


def _profile(user: ClerkUser) -> dict[str, Any]:
    """The profile fields `user.created` and `user.updated` both announce."""
    return {
        "user_id": user.id,
        "email": user.primary_email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "image_url": user.image_url,
        "email_verified": user.primary_email_verified,
    }
