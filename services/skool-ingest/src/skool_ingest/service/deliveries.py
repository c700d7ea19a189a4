"""Verified deliveries: stored once each, folded into `skool_subscriptions`, announced.

Deliveries come through a group commit (`shared.db.group_commit`), as identity's webhook does:
the deliveries of concurrent requests share one transaction, and each request is answered with
its own delivery's status once that transaction has committed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from opentelemetry.trace import SpanKind
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.envelope import EventData
from shared.events.schemas.skool import SkoolCancelled, SkoolSubscribed
from shared.outbox import NewEvent, record_events
from shared.telemetry import span_from_traceparent
from skool_ingest.schemas import SUBSCRIBED, SkoolDelivery

log = logging.getLogger(__name__)

SOURCE = "skool-ingest"
ACCEPTED = "accepted"
DUPLICATE = "duplicate"

# A delivery seen before (same event_id, or same natural key) inserts nothing.
_STORE = text(
    "INSERT INTO skool_deliveries (event_id, natural_key, event_type, email, community_id, occurred_at, "
    "body, signed_at, verified, received_at, traceparent) VALUES (:event_id, :natural_key, :event_type, "
    ":email, :community_id, :occurred_at, :body, :signed_at, true, :received_at, :traceparent) "
    "ON CONFLICT DO NOTHING RETURNING id"
)
# The newest occurred_at wins: an older delivery (late, or out of order) changes nothing.
# `since` is when the current active period began; `until` the paid-up-to date (active) or when
# it ends (cancelled).
_FOLD = text(
    "INSERT INTO skool_subscriptions AS s (email, community_id, status, since, until, occurred_at, "
    "skool_member_id, first_name, last_name, community_name) VALUES (:email, :community_id, :status, "
    ":since, :until, :occurred_at, :skool_member_id, :first_name, :last_name, :community_name) "
    "ON CONFLICT (email, community_id) DO UPDATE SET status = excluded.status, "
    "since = CASE WHEN excluded.status = 'cancelled' OR s.status = 'active' "
    "THEN coalesce(s.since, excluded.since) ELSE excluded.since END, "
    "until = excluded.until, occurred_at = excluded.occurred_at, "
    "skool_member_id = coalesce(excluded.skool_member_id, s.skool_member_id), "
    "first_name = coalesce(excluded.first_name, s.first_name), "
    "last_name = coalesce(excluded.last_name, s.last_name), "
    "community_name = coalesce(excluded.community_name, s.community_name), updated_at = now() "
    "WHERE s.occurred_at < excluded.occurred_at RETURNING status"
)


@dataclass(frozen=True)
class Delivery:
    """A verified delivery: its parsed body, the raw body, when it was signed and when it arrived."""

    body: SkoolDelivery
    raw: str
    signed_at: int
    received_at: datetime
    traceparent: str | None = None


async def process_deliveries(session: AsyncSession, deliveries: Sequence[Delivery]) -> list[str]:
    """Store each delivery once and apply it; per delivery "accepted" or "duplicate"."""
    statuses: list[str] = []
    events: list[NewEvent] = []
    for delivery in deliveries:
        with span_from_traceparent(
            f"skool-ingest apply {delivery.body.event}", delivery.traceparent, kind=SpanKind.INTERNAL
        ):
            if not await _store(session, delivery):
                log.info("skool delivery %s: duplicate", delivery.body.event_id or delivery.body.natural_key)
                statuses.append(DUPLICATE)
                continue
            statuses.append(ACCEPTED)
            if await _fold(session, delivery.body):
                events.append(NewEvent(delivery.body.email, _event_of(delivery.body), delivery.traceparent))
            else:
                log.info("skool delivery for %s: older than what is known, no effect", delivery.body.email)
    await record_events(session, source=SOURCE, events=events)
    return statuses


async def _store(session: AsyncSession, delivery: Delivery) -> bool:
    body = delivery.body
    stored = await session.execute(
        _STORE,
        {
            "event_id": body.event_id,
            "natural_key": body.natural_key,
            "event_type": body.event,
            "email": body.email,
            "community_id": body.community_id,
            "occurred_at": body.occurred_at,
            "body": delivery.raw,
            "signed_at": delivery.signed_at,
            "received_at": delivery.received_at,
            "traceparent": delivery.traceparent,
        },
    )
    return stored.first() is not None


async def _fold(session: AsyncSession, body: SkoolDelivery) -> bool:
    """Apply the delivery to the member's subscription; False when a newer one is already known."""
    subscribed = body.event == SUBSCRIBED
    row = await session.execute(
        _FOLD,
        {
            "email": body.email,
            "community_id": body.community_id,
            "status": "active" if subscribed else "cancelled",
            "since": body.occurred_at if subscribed else None,
            "until": body.period_end if subscribed else (body.period_end or body.occurred_at),
            "occurred_at": body.occurred_at,
            "skool_member_id": body.skool_member_id,
            "first_name": body.first_name,
            "last_name": body.last_name,
            "community_name": body.community_name,
        },
    )
    return row.first() is not None


def _event_of(body: SkoolDelivery) -> EventData:
    if body.event == SUBSCRIBED:
        return SkoolSubscribed(
            email=body.email,
            community_id=body.community_id,
            occurred_at=body.occurred_at,
            period_end=body.period_end,
            first_name=body.first_name,
            last_name=body.last_name,
            skool_member_id=body.skool_member_id,
            community_name=body.community_name,
        )
    return SkoolCancelled(
        email=body.email,
        community_id=body.community_id,
        occurred_at=body.occurred_at,
        period_end=body.period_end,
        skool_member_id=body.skool_member_id,
    )
