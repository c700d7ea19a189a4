"""What the example learns from the platform's events: each org's plan and features.

Applied exactly once in effect: the event id goes into the inbox in the same transaction as the
change (a redelivered or replayed event is a no-op), and an event older than what the org's row
holds (a lower `version`: a replay of an old event, or one overtaken) changes nothing.
"""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backbone_client.events import BILLING_SUBSCRIPTIONS, Event, SubscriptionChanged
from backbone_client.subscriber import platform_subscription
from practice_app.db import inbox, org_plans
from practice_app.settings import CONSUMER


def subscribe(broker: KafkaBroker, sessions: async_sessionmaker[AsyncSession]) -> None:
    """Register the app's handlers on `broker` (a `platform_broker`)."""

    @broker.subscriber(BILLING_SUBSCRIPTIONS, **platform_subscription(CONSUMER))
    async def on_subscription_changed(event: Event[SubscriptionChanged]) -> None:
        async with sessions.begin() as session:
            if await inbox.claim(session, event):
                await apply_plan(session, event.data)


async def apply_plan(session: AsyncSession, change: SubscriptionChanged) -> None:
    """The org's row becomes this change, unless it already holds this version or a newer one."""
    values = {"plan": change.plan, "version": change.version, "features": change.features}
    await session.execute(
        insert(org_plans)
        .values(org_id=change.org_id, **values)
        .on_conflict_do_nothing(index_elements=["org_id"])
    )
    await session.execute(
        update(org_plans)
        .where(org_plans.c.org_id == change.org_id, org_plans.c.version < change.version)
        .values(**values, updated_at=func.now())
    )
