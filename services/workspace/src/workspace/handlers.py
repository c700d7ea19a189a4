"""workspace's consumers: users from identity, plans from billing."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.envelope import Envelope
from shared.events.schemas.billing import SubscriptionChanged
from shared.events.schemas.identity import UserCreated, UserDeleted, UserUpdated
from shared.events.topics import BILLING_SUBSCRIPTIONS, IDENTITY_USERS
from shared.runtime import Subscription
from workspace.service.lifecycle import remove_deleted_user
from workspace.service.plans import apply_subscription_change
from workspace.service.signup import provision_new_user
from workspace.service.users import update_user


async def on_user_created(session: AsyncSession, event: Envelope) -> None:
    await provision_new_user(session, user=event.payload(UserCreated))


async def on_user_updated(session: AsyncSession, event: Envelope) -> None:
    await update_user(session, user=event.payload(UserUpdated))


async def on_user_deleted(session: AsyncSession, event: Envelope) -> None:
    await remove_deleted_user(session, user_id=event.payload(UserDeleted).user_id)


async def on_subscription_changed(session: AsyncSession, event: Envelope) -> None:
    await apply_subscription_change(session, change=event.payload(SubscriptionChanged))


SUBSCRIPTIONS = (
    Subscription(
        topic=IDENTITY_USERS,
        handlers={
            UserCreated.event_type: on_user_created,
            UserUpdated.event_type: on_user_updated,
            UserDeleted.event_type: on_user_deleted,
        },
    ),
    Subscription(
        topic=BILLING_SUBSCRIPTIONS,
        handlers={SubscriptionChanged.event_type: on_subscription_changed},
    ),
)
