"""workspace's consumers."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.envelope import Envelope
from shared.events.schemas.identity import UserCreated
from shared.events.schemas.invites import (
    InvitationAccepted,
    InvitationCreated,
    InvitationRedemptionFailed,
    InvitationRevoked,
)
from shared.events.topics import IDENTITY_USERS, INVITES_INVITATIONS
from shared.messaging.consumer import Batched
from shared.runtime import Subscription
from workspace.service.invitations import (
    accept_invitation,
    fall_back_to_personal,
    note_invitation_created,
    note_invitation_revoked,
)
from workspace.service.signup import Signup, provision_new_users


async def on_users_created(session: AsyncSession, events: Sequence[Envelope]) -> None:
    """Signups arrive in bursts: a run of user.created is provisioned with one statement per table."""
    signups = [Signup(event.payload(UserCreated), event.traceparent) for event in events]
    await provision_new_users(session, signups=signups)


async def on_invitation_accepted(session: AsyncSession, event: Envelope) -> None:
    await accept_invitation(session, accepted=event.payload(InvitationAccepted))


async def on_invitation_redemption_failed(session: AsyncSession, event: Envelope) -> None:
    await fall_back_to_personal(session, failed=event.payload(InvitationRedemptionFailed))


async def on_invitation_created(session: AsyncSession, event: Envelope) -> None:
    await note_invitation_created(session, created=event.payload(InvitationCreated))


async def on_invitation_revoked(session: AsyncSession, event: Envelope) -> None:
    await note_invitation_revoked(session, revoked=event.payload(InvitationRevoked))


SUBSCRIPTIONS = (
    Subscription(topic=IDENTITY_USERS, handlers={UserCreated.event_type: Batched(on_users_created)}),
    Subscription(
        topic=INVITES_INVITATIONS,
        handlers={
            InvitationCreated.event_type: on_invitation_created,
            InvitationRevoked.event_type: on_invitation_revoked,
            InvitationAccepted.event_type: on_invitation_accepted,
            InvitationRedemptionFailed.event_type: on_invitation_redemption_failed,
        },
    ),
)
