"""skool_ingest's consumers: who has an account (`identity.users`), and its own `skool.subscribed`
events, which send the welcome email to members without one."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.envelope import Envelope
from shared.events.schemas.identity import UserCreated, UserDeleted, UserUpdated
from shared.events.schemas.skool import SkoolSubscribed
from shared.events.topics import IDENTITY_USERS, SKOOL_SUBSCRIPTIONS
from shared.messaging.consumer import Batched, EventHandler
from shared.runtime import Subscription
from skool_ingest.service.accounts import forget_account, remember_accounts
from skool_ingest.service.welcome import Mailer, welcome_if_new


async def on_users_created(session: AsyncSession, events: Sequence[Envelope]) -> None:
    """Signups arrive in bursts: a run is recorded with one statement."""
    created = [event.payload(UserCreated) for event in events]
    await remember_accounts(session, accounts=[(user.user_id, _owned_email(user)) for user in created])


async def on_user_updated(session: AsyncSession, event: Envelope) -> None:
    user = event.payload(UserUpdated)
    await remember_accounts(session, accounts=[(user.user_id, _owned_email(user))])


def _owned_email(user: UserCreated | UserUpdated) -> str | None:
    """An unverified address is no account's (workspace binds nothing to it): its owner still
    gets the welcome email."""
    return user.email if user.email_verified else None


async def on_user_deleted(session: AsyncSession, event: Envelope) -> None:
    await forget_account(session, user_id=event.payload(UserDeleted).user_id)


def on_skool_subscribed(mailer: Mailer) -> EventHandler:
    async def handle(session: AsyncSession, event: Envelope) -> None:
        await welcome_if_new(session, subscribed=event.payload(SkoolSubscribed), mailer=mailer)

    return handle


def build_subscriptions(mailer: Mailer) -> tuple[Subscription, ...]:
    return (
        Subscription(
            topic=IDENTITY_USERS,
            handlers={
                UserCreated.event_type: Batched(on_users_created),
                UserUpdated.event_type: on_user_updated,
                UserDeleted.event_type: on_user_deleted,
            },
        ),
        Subscription(
            topic=SKOOL_SUBSCRIPTIONS,
            handlers={SkoolSubscribed.event_type: on_skool_subscribed(mailer)},
        ),
    )
