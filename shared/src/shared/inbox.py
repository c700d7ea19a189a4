"""The inbox: a consumer records each event id in the same transaction as the event's effect."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Text, Uuid

# One statement for a whole batch: duplicates (already in the inbox, or twice in the batch)
# are simply not returned.
_CLAIM = text(
    "INSERT INTO inbox (consumer, event_id, event_type) "
    "SELECT :consumer, claimed.event_id, claimed.event_type "
    "FROM unnest(:event_ids, :event_types) AS claimed(event_id, event_type) "
    "ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id"
).bindparams(
    bindparam("event_ids", type_=ARRAY(Uuid())),
    bindparam("event_types", type_=ARRAY(Text())),
)


async def claim_events(
    session: AsyncSession, *, consumer: str, events: Sequence[tuple[uuid.UUID, str]]
) -> set[uuid.UUID]:
    """Record `(event_id, event_type)` pairs for this consumer; returns the ids seen for the first time."""
    if not events:
        return set()
    result = await session.execute(
        _CLAIM,
        {
            "consumer": consumer,
            "event_ids": [event_id for event_id, _ in events],
            "event_types": [event_type for _, event_type in events],
        },
    )
    return {row[0] for row in result}
