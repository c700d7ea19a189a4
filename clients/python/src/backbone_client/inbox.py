"""Idempotency by event id: the inbox, on SQLAlchemy async and PostgreSQL (extra `inbox`).

Delivery is at-least-once: after a crash between the effect and the commit of the offset, or a
replay of a dead letter, the same event comes again. Record its id in the same transaction as its
effect, and apply the effect only when the id is new:

    inbox = Inbox(metadata, consumer="practice-app")

    async with sessions.begin() as session:
        if await inbox.claim(session, event):
            ...  # the effect, in this same transaction

If the transaction rolls back, the claim goes with it and the redelivered event is applied then.
An event that is newer *by the platform's own order* (SubscriptionChanged.version) is a different
matter: the inbox only stops the very same event twice; keep the highest version as well.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Column, DateTime, MetaData, PrimaryKeyConstraint, String, Table, Uuid, delete, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backbone_client.events import Event


class Inbox:
    """An `inbox` table on `metadata` (create it with your other tables) and its claim."""

    def __init__(self, metadata: MetaData, *, consumer: str, name: str = "inbox") -> None:
        self.consumer = consumer
        self.table = Table(
            name,
            metadata,
            Column("consumer", String, nullable=False),
            Column("event_id", Uuid, nullable=False),
            Column("event_type", String, nullable=False),
            Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
            PrimaryKeyConstraint("consumer", "event_id"),
        )

    async def claim(self, session: AsyncSession, event: Event[Any]) -> bool:
        """Record the event's id; True the first time, False for an event already applied."""
        statement = (
            insert(self.table)
            .values(consumer=self.consumer, event_id=event.id, event_type=event.type)
            .on_conflict_do_nothing(index_elements=["consumer", "event_id"])
            .returning(self.table.c.event_id)
        )
        return (await session.execute(statement)).first() is not None

    async def prune(self, session: AsyncSession, *, older_than: timedelta) -> int:
        """Forget this consumer's entries older than `older_than` (redeliveries come within
        minutes; the platform keeps two weeks); returns how many. Run it now and then."""
        statement = delete(self.table).where(
            self.table.c.consumer == self.consumer, self.table.c.received_at < func.now() - older_than
        )
        result = await session.execute(statement)
        return int(getattr(result, "rowcount", 0) or 0)
