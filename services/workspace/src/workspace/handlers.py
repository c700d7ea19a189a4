"""workspace's consumers: users from identity, plans from billing, verdicts from invites,
entitlements from Skool."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.envelope import Envelope
from shared.events.schemas.billing import SubscriptionChanged
from shared.events.schemas.identity import UserCreated, UserDeleted, UserUpdated
from shared.events.schemas.invites import (
    InvitationAccepted,
    InvitationCreated,
    InvitationRedemptionFailed,
    InvitationRevoked,
)
from shared.events.schemas.skool import SkoolCancelled, SkoolSubscribed
from shared.events.topics import (
    BILLING_SUBSCRIPTIONS,
    IDENTITY_USERS,
    INVITES_INVITATIONS,
    SKOOL_SUBSCRIPTIONS,
)
from shared.messaging.consumer import Batched
from shared.runtime import Subscription
from workspace.service.invitations import (
    accept_invitation,
    fall_back_to_personal,
    note_invitation_created,
    note_invitation_revoked,
)
from workspace.service.lifecycle import remove_deleted_user
from workspace.service.plans import apply_subscription_changes
from workspace.service.signup import Signup, provision_new_users
from workspace.service.skool import apply_skool_cancelled, apply_skool_subscribed
from workspace.service.users import update_user


async def on_users_created(session: AsyncSession, events: Sequence[Envelope]) -> None:
    """Signups arrive in bursts: a run of user.created is provisioned with one statement per table."""
    signups = [Signup(event.payload(UserCreated), event.traceparent) for event in events]
    await provision_new_users(session, signups=signups)


async def on_user_updated(session: AsyncSession, event: Envelope) -> None:
    await update_user(session, user=event.payload(UserUpdated))


async def on_user_deleted(session: AsyncSession, event: Envelope) -> None:
    await remove_deleted_user(session, user_id=event.payload(UserDeleted).user_id)


async def on_subscriptions_changed(session: AsyncSession, events: Sequence[Envelope]) -> None:
    """Every signup brings one: a run is projected with one statement."""
    await apply_subscription_changes(
        session, changes=[event.payload(SubscriptionChanged) for event in events]
    )


async def on_invitation_accepted(session: AsyncSession, event: Envelope) -> None:
    await accept_invitation(session, accepted=event.payload(InvitationAccepted))


async def on_invitation_redemption_failed(session: AsyncSession, event: Envelope) -> None:
    await fall_back_to_personal(session, failed=event.payload(InvitationRedemptionFailed))


async def on_invitation_created(session: AsyncSession, event: Envelope) -> None:
    await note_invitation_created(session, created=event.payload(InvitationCreated))


async def on_invitation_revoked(session: AsyncSession, event: Envelope) -> None:
    await note_invitation_revoked(session, revoked=event.payload(InvitationRevoked))


async def on_skool_subscribed(session: AsyncSession, event: Envelope) -> None:
    await apply_skool_subscribed(session, subscribed=event.payload(SkoolSubscribed))


async def on_skool_cancelled(session: AsyncSession, event: Envelope) -> None:
    await apply_skool_cancelled(session, cancelled=event.payload(SkoolCancelled))


SUBSCRIPTIONS = (
    Subscription(
        topic=IDENTITY_USERS,
        handlers={
            UserCreated.event_type: Batched(on_users_created),
            UserUpdated.event_type: on_user_updated,
            UserDeleted.event_type: on_user_deleted,
        },
    ),
    Subscription(
        topic=BILLING_SUBSCRIPTIONS,
        handlers={SubscriptionChanged.event_type: Batched(on_subscriptions_changed)},
    ),
    Subscription(
        topic=INVITES_INVITATIONS,
        handlers={
            InvitationCreated.event_type: on_invitation_created,
            InvitationRevoked.event_type: on_invitation_revoked,
            InvitationAccepted.event_type: on_invitation_accepted,
            InvitationRedemptionFailed.event_type: on_invitation_redemption_failed,
        },
    ),
    Subscription(
        topic=SKOOL_SUBSCRIPTIONS,
        handlers={
            SkoolSubscribed.event_type: on_skool_subscribed,
            SkoolCancelled.event_type: on_skool_cancelled,
        },
    ),
)
