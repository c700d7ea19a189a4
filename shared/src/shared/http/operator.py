"""Operator endpoints (service key): what `devstack trace <id>` asks each service.

- `GET /v1/ops/timeline?q=<id>`: the outbox rows about `q` (keyed by it, or whose envelope names
  it), the service's own entries (its webhook deliveries), and ids `related` to `q` that the
  caller should look up too (identity: an email's user id; workspace: a user's personal org...).
- `POST /v1/ops/consumptions`: which of these events this service's consumer has applied, and when.
- `GET /v1/ops/subscriptions`: the topics and event types this service's consumer group handles.

A service adds its entries and related ids with a `TimelineHook` given to `ServiceRuntime.build_app`
(its composition root); shared knows no service. Reads are bounded (`TIMELINE_LIMIT` rows per
statement) and go through the service's own session role, like any request.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import LargeBinary, Uuid

from shared.errors import InvalidServiceKey, error_responses
from shared.http.deps import DbSession, OperatorKey
from shared.telemetry import trace_id_of

TIMELINE_LIMIT = 200
MAX_EVENT_IDS = 1000
QUERY_DESCRIPTION = "a user id, org id, email, invitation slug or id, Skool member id, Stripe id"


def json_needle(value: str) -> bytes:
    """`value` as it appears as a JSON string in an envelope: quoted, so `user_1` does not match
    `user_12`."""
    return json.dumps(value, ensure_ascii=False).encode()


class TimelineEntry(BaseModel):
    """Something that happened about the id: a webhook delivery, or an event this service wrote."""

    at: datetime
    service: str
    kind: Literal["webhook", "event"] = Field(
        description="`webhook` (a delivery this service received) or `event` (an outbox row)"
    )
    summary: str = Field(description="what happened, in words (a delivery's source, type and outcome)")
    event_type: str | None = None
    event_id: uuid.UUID | None = None
    subject: str | None = Field(default=None, description="the event's key (its aggregate id)")
    topic: str | None = None
    published_at: datetime | None = Field(default=None, description="null while still in the outbox")
    trace_id: str | None = None


class Timeline(BaseModel):
    service: str
    query: str
    entries: list[TimelineEntry]
    related: list[str] = Field(description="other ids of the same user, org or invitation to look up")
    truncated: bool = Field(description=f"a statement hit its limit ({TIMELINE_LIMIT} rows)")


class ConsumptionsQuery(BaseModel):
    event_ids: list[uuid.UUID] = Field(max_length=MAX_EVENT_IDS)


class Consumption(BaseModel):
    consumer: str
    event_id: uuid.UUID
    event_type: str
    processed_at: datetime


class Consumptions(BaseModel):
    service: str
    consumptions: list[Consumption]


class SubscribedTopic(BaseModel):
    topic: str
    event_types: list[str]


class Subscriptions(BaseModel):
    service: str
    group: str = Field(description="the Kafka consumer group")
    consumer: str = Field(description="the consumer's name in the inbox")
    subscriptions: list[SubscribedTopic]


@dataclass
class Findings:
    """What a service's hook adds to its timeline."""

    entries: list[TimelineEntry] = field(default_factory=list)
    related: list[str] = field(default_factory=list)
    truncated: bool = False


TimelineHook = Callable[[AsyncSession, str], Awaitable[Findings]]


async def no_findings(_: AsyncSession, __: str) -> Findings:
    return Findings()


_OUTBOX = text(
    "SELECT event_id, event_type, topic, key, headers->>'traceparent' AS traceparent, created_at, sent_at "
    "FROM outbox WHERE key = :q OR position(:needle IN value) > 0 ORDER BY position LIMIT :limit"
).bindparams(bindparam("needle", type_=LargeBinary()))
_INBOX = text(
    "SELECT consumer, event_id, event_type, processed_at FROM inbox "
    "WHERE consumer = :consumer AND event_id = ANY(:event_ids)"
).bindparams(bindparam("event_ids", type_=ARRAY(Uuid())))

router = APIRouter(prefix="/v1/ops", tags=["operator"], dependencies=[OperatorKey])


@router.get(
    "/timeline",
    summary="What this service holds about an id (outbox, webhook deliveries) and related ids",
    responses=error_responses(InvalidServiceKey),
)
async def timeline(
    request: Request,
    session: DbSession,
    q: Annotated[
        str,
        # No NUL: PostgreSQL text cannot hold one (a 422, not a 500).
        Query(min_length=1, max_length=320, pattern=r"^[^\x00]+$", description=QUERY_DESCRIPTION),
    ],
) -> Timeline:
    runtime = request.app.state.runtime
    events = await outbox_entries(session, service=runtime.name, q=q)
    found = await runtime.timeline_hook(session, q)
    entries = sorted([*events, *found.entries], key=lambda entry: entry.at)
    related = sorted({value for value in found.related if value and value != q})
    truncated = len(events) >= TIMELINE_LIMIT or found.truncated
    return Timeline(service=runtime.name, query=q, entries=entries, related=related, truncated=truncated)


@router.post(
    "/consumptions",
    summary="Which of these events this service's consumer applied, and when (its inbox)",
    responses=error_responses(InvalidServiceKey),
)
async def consumptions(request: Request, session: DbSession, query: ConsumptionsQuery) -> Consumptions:
    name: str = request.app.state.runtime.name
    rows = await session.execute(_INBOX, {"consumer": name, "event_ids": query.event_ids})
    return Consumptions(service=name, consumptions=[Consumption.model_validate(row._mapping) for row in rows])


@router.get(
    "/subscriptions",
    summary="The topics and event types this service's consumer group handles",
    responses=error_responses(InvalidServiceKey),
)
async def subscriptions(request: Request) -> Subscriptions:
    runtime = request.app.state.runtime
    return Subscriptions(
        service=runtime.name,
        group=runtime.settings.consumer_group,
        consumer=runtime.name,
        subscriptions=[
            SubscribedTopic(topic=subscription.topic, event_types=sorted(subscription.handlers))
            for subscription in runtime.subscriptions
        ],
    )


async def outbox_entries(session: AsyncSession, *, service: str, q: str) -> list[TimelineEntry]:
    """The events this service wrote keyed by `q` or naming it (a JSON string equal to `q`)."""
    rows = await session.execute(_OUTBOX, {"q": q, "needle": json_needle(q), "limit": TIMELINE_LIMIT})
    return [
        TimelineEntry(
            at=row.created_at,
            service=service,
            kind="event",
            summary="published" if row.sent_at else "waiting in the outbox",
            event_type=row.event_type,
            event_id=row.event_id,
            subject=row.key,
            topic=row.topic,
            published_at=row.sent_at,
            trace_id=trace_id_of(row.traceparent),
        )
        for row in rows
    ]


def webhook_entry(
    *, service: str, at: datetime, summary: str, event_type: str, traceparent: str | None
) -> TimelineEntry:
    """A webhook delivery as a timeline entry (for a service's hook)."""
    return TimelineEntry(
        at=at,
        service=service,
        kind="webhook",
        summary=summary,
        event_type=event_type,
        trace_id=trace_id_of(traceparent),
    )


def ids_of(rows: Sequence[Any]) -> list[str]:
    """The first column of each row, as text (a hook's related ids)."""
    return [str(row[0]) for row in rows if row[0] is not None]
