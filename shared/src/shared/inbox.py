"""The inbox: a consumer records each event id in the same transaction as the event's effect."""

from __future__ import annotations

import uuid

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from shared.db.tables import InboxEntry


async def claim_event(session: AsyncSession, *, consumer: str, event_id: uuid.UUID, event_type: str) -> bool:
    """Record the event for this consumer; False if it was already processed (a duplicate)."""
    statement = (
        insert(InboxEntry)
        .values(consumer=consumer, event_id=event_id, event_type=event_type)
        .on_conflict_do_nothing(index_elements=["consumer", "event_id"])
        .returning(col(InboxEntry.event_id))
    )
    result = await session.execute(statement)
    return result.first() is not None
