"""Write events to the outbox through the caller's session (no commit: the caller owns it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.session import OUTBOX_WRITTEN
from shared.db.tables import OutboxMessage
from shared.events.envelope import CONTENT_TYPE, Envelope, EventData, new_envelope
from shared.events.topics import topic_for
from shared.telemetry import current_traceparent

_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[attr-defined]
# Built once: a Core insert run with rows of parameters, no ORM object, no per-event statement.
_INSERT = insert(_OUTBOX)


@dataclass(frozen=True)
class NewEvent:
    """An event to announce: its aggregate id (the Kafka key), payload, and the trace it belongs to."""

    subject: str
    data: EventData
    # The W3C traceparent to carry on; None means the active span's (a request's, a handler's).
    traceparent: str | None = None


async def record_event(session: AsyncSession, *, source: str, subject: str, data: EventData) -> Envelope:
    """Add `data` as a new event on its topic, keyed by `subject` (the aggregate id)."""
    [envelope] = await record_events(session, source=source, events=[NewEvent(subject, data)])
    return envelope


async def record_events(session: AsyncSession, *, source: str, events: Sequence[NewEvent]) -> list[Envelope]:
    """Add several events in one statement, in order (a batch handler's announcements)."""
    if not events:
        return []
    active = current_traceparent()
    envelopes, rows = [], []
    for event in events:
        envelope = new_envelope(
            source=source, subject=event.subject, data=event.data, traceparent=event.traceparent or active
        )
        envelopes.append(envelope)
        rows.append(_row(envelope))
    session.info[OUTBOX_WRITTEN] = True  # the commit wakes this process's relay
    await session.execute(_INSERT, rows)
    return envelopes


def _row(envelope: Envelope) -> dict[str, Any]:
    headers = {
        "content-type": CONTENT_TYPE,
        "ce_id": str(envelope.id),
        "ce_type": envelope.type,
        "ce_source": envelope.source,
    }
    if envelope.traceparent:
        headers["traceparent"] = envelope.traceparent
    return {
        "event_id": envelope.id,
        "event_type": envelope.type,
        "topic": topic_for(envelope.type),
        "key": envelope.subject,
        "value": envelope.to_bytes(),
        "headers": headers,
    }
