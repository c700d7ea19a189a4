"""Write an event to the outbox through the caller's session (no commit: the caller owns it)."""

from __future__ import annotations

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.session import OUTBOX_WRITTEN
from shared.db.tables import OutboxMessage
from shared.events.envelope import Envelope, EventData, new_envelope
from shared.events.topics import topic_for
from shared.telemetry import current_traceparent

_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[attr-defined]
# Built once: a Core insert run with a row of parameters, no ORM object, no per-event statement.
_INSERT = insert(_OUTBOX)


async def record_event(session: AsyncSession, *, source: str, subject: str, data: EventData) -> Envelope:
    """Add `data` as a new event on its topic, keyed by `subject` (the aggregate id)."""
    traceparent = current_traceparent()
    envelope = new_envelope(source=source, subject=subject, data=data, traceparent=traceparent)
    headers = {
        "content-type": "application/cloudevents+json",
        "ce_id": str(envelope.id),
        "ce_type": envelope.type,
        "ce_source": envelope.source,
    }
    if traceparent:
        headers["traceparent"] = traceparent
    session.info[OUTBOX_WRITTEN] = True  # the commit wakes this process's relay
    await session.execute(
        _INSERT,
        {
            "event_id": envelope.id,
            "event_type": envelope.type,
            "topic": topic_for(envelope.type),
            "key": subject,
            "value": envelope.to_bytes(),
            "headers": headers,
        },
    )
    return envelope
