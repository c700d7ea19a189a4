"""The inbox: a consumer records each event id in the same transaction as the event's effect."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.driver import driver_sql

# One statement for a whole batch: duplicates (already in the inbox, or twice in the batch)
# are simply not returned. Sent as driver SQL (shared.db.driver).
_CLAIM = (
    "INSERT INTO inbox (consumer, event_id, event_type) "
    "SELECT $1, claimed.event_id, claimed.event_type "
    "FROM unnest($2::uuid[], $3::text[]) AS claimed(event_id, event_type) "
    "ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id"
)


async def claim_events(
    session: AsyncSession, *, consumer: str, events: Sequence[tuple[uuid.UUID, str]]
) -> set[uuid.UUID]:
    """Record `(event_id, event_type)` pairs for this consumer; returns the ids seen for the first time."""
    if not events:
        return set()
    rows = await driver_sql(
        session,
        _CLAIM,
        consumer,
        [event_id for event_id, _ in events],
        [event_type for _, event_type in events],
    )
    return {uuid.UUID(bytes=row[0].bytes) for row in rows}
