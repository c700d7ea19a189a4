"""Processing verified auth-provider deliveries: store each, then apply it, in one transaction.

Deliveries come through a group commit (`shared.db.group_commit`): the deliveries of concurrent
requests are stored and applied together, with one statement per table for the hot case
(`user.created`), and each request gets its own delivery's status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from opentelemetry.trace import SpanKind
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from identity.errors import MalformedWebhook
from identity.schemas import ClerkDeletedUser, ClerkEvent, ClerkUser
from identity.service.users import NewUser, create_users, delete_user, record_deliveries, update_user
from shared.telemetry import span_from_traceparent

HANDLED_TYPES = ("user.created", "user.updated", "user.deleted")


@dataclass(frozen=True)
class Delivery:
    """A verified delivery, its payload parsed, and the trace of the request that brought it."""

    delivery_id: str
    event: ClerkEvent
    user: ClerkUser | ClerkDeletedUser | None  # None for a type we do not handle
    traceparent: str | None = None


def parse_delivery(*, delivery_id: str, event: ClerkEvent, traceparent: str | None) -> Delivery:
    """Check a delivery's data before it is queued: a malformed user is the sender's error (400)."""
    if event.type not in HANDLED_TYPES:
        return Delivery(delivery_id, event, None, traceparent)
    try:
        user: ClerkUser | ClerkDeletedUser = (
            ClerkDeletedUser.model_validate(event.data)
            if event.type == "user.deleted"
            else ClerkUser.model_validate(event.data)
        )
    except ValidationError as error:
        raise MalformedWebhook(f"{event.type} data is not a valid user: {error}") from error
    return Delivery(delivery_id, event, user, traceparent)


async def process_deliveries(session: AsyncSession, deliveries: Sequence[Delivery]) -> list[str]:
    """Apply each delivery once, in order; per delivery "processed", "duplicate" (its id was seen
    before, or earlier in this group) or "ignored" (a type we do not handle)."""
    handled = [delivery for delivery in deliveries if delivery.user is not None]
    fresh = await record_deliveries(
        session,
        deliveries=[(d.delivery_id, d.event.type, d.event.model_dump_json(), d.traceparent) for d in handled],
    )
    statuses: list[str] = []
    to_apply: list[Delivery] = []
    for delivery in deliveries:
        if delivery.user is None:
            statuses.append("ignored")
        elif delivery.delivery_id in fresh:
            fresh.discard(delivery.delivery_id)  # the same id twice in one group: the first applies
            statuses.append("processed")
            to_apply.append(delivery)
        else:
            statuses.append("duplicate")
    await _apply(session, to_apply)
    return statuses


async def _apply(session: AsyncSession, deliveries: Sequence[Delivery]) -> None:
    """New users with one statement; the rarer updates and deletions one by one, in order."""
    await create_users(
        session,
        users=[
            NewUser(d.user, d.traceparent)
            for d in deliveries
            if isinstance(d.user, ClerkUser) and d.event.type == "user.created"
        ],
    )
    for delivery in deliveries:
        # The group's writer runs outside the request: carry the request's trace into the events.
        with span_from_traceparent(
            f"identity apply {delivery.event.type}", delivery.traceparent, kind=SpanKind.INTERNAL
        ):
            if delivery.event.type == "user.updated" and isinstance(delivery.user, ClerkUser):
                await update_user(session, user=delivery.user)
            elif isinstance(delivery.user, ClerkDeletedUser):
                await delete_user(session, user=delivery.user)
