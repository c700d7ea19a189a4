"""Write events to the outbox through the caller's session (no commit: the caller owns it)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.driver import driver_sql
from shared.db.session import OUTBOX_WRITTEN
from shared.events.envelope import CONTENT_TYPE, Envelope, EventData, new_envelope
from shared.events.topics import topic_for
from shared.telemetry import current_traceparent

# Every event of a unit of work in one statement, in order (`position` follows the array order),
# sent as driver SQL (shared.db.driver): no per-event statement, no ORM object.
_INSERT = (
    "INSERT INTO outbox (event_id, event_type, topic, key, value, headers) "
    "SELECT event_id, event_type, topic, key, value, headers "
    "FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::jsonb[]) "
    "WITH ORDINALITY AS new(event_id, event_type, topic, key, value, headers, n) ORDER BY n"
)


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
    envelopes = [
        new_envelope(
            source=source, subject=event.subject, data=event.data, traceparent=event.traceparent or active
        )
        for event in events
    ]
    session.info[OUTBOX_WRITTEN] = True  # the commit wakes this process's relay
    await driver_sql(
        session,
        _INSERT,
        [envelope.id for envelope in envelopes],
        [envelope.type for envelope in envelopes],
        [topic_for(envelope.type) for envelope in envelopes],
        [envelope.subject for envelope in envelopes],
        [envelope.to_bytes() for envelope in envelopes],
        [json.dumps(_headers(envelope)) for envelope in envelopes],
    )
    return envelopes


def _headers(envelope: Envelope) -> dict[str, str]:
    headers = {
        "content-type": CONTENT_TYPE,
        "ce_id": str(envelope.id),
        "ce_type": envelope.type,
        "ce_source": envelope.source,
    }
    if envelope.traceparent:
        headers["traceparent"] = envelope.traceparent
    return headers
