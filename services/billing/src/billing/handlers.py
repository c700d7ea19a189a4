"""billing's consumers: one function per event type it reads on `workspace.orgs`, and users'
addresses from `identity.users` (one conversion trial per person: `service.trials`).

Skool entitlements arrive there too, as `org.entitlement_granted` / `org.entitlement_ended`:
workspace decides which org a Skool membership pays for (docs/skool.md), so billing never reads
`skool.subscriptions`."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from billing.service.members import forget_member, record_member, record_members
from billing.service.skool import apply_skool_cancelled, apply_skool_subscribed
from billing.service.subscriptions import NewOrg, convert_to_team, start_subscriptions
from billing.service.trials import forget_address, record_addresses
from billing.stripe_gateway import StripeGateway
from shared.events.envelope import Envelope
from shared.events.schemas.identity import UserCreated, UserDeleted, UserUpdated
from shared.events.schemas.workspace import (
    MembershipAdded,
    MembershipRemoved,
    MembershipRoleChanged,
    OrgConverted,
    OrgCreated,
    OrgEntitlementEnded,
    OrgEntitlementGranted,
)
from shared.events.topics import IDENTITY_USERS, WORKSPACE_ORGS
from shared.messaging.consumer import Batched, EventHandler, batched_together
from shared.runtime import Subscription

log = logging.getLogger(__name__)


async def on_orgs_created(session: AsyncSession, events: Sequence[Envelope]) -> None:
    """Orgs arrive in bursts (signups): a run of org.created is started with one statement."""
    orgs = []
    for event in events:
        data = event.payload(OrgCreated)
        orgs.append(
            NewOrg(data.org_id, data.initial_plan, data.is_personal, data.provisioned_for, event.traceparent)
        )
    await start_subscriptions(session, orgs=orgs)


def on_org_converted(stripe: StripeGateway) -> EventHandler:
    async def handle(session: AsyncSession, event: Envelope) -> None:
        data = event.payload(OrgConverted)
        individual = await convert_to_team(
            session, org_id=data.org_id, requested_plan=data.plan, owner_user_id=data.owner_user_id
        )
        if individual is not None:
            # In the same unit of work: if Stripe cannot be reached the conversion is retried
            # (the idempotency key makes a second cancel harmless).
            await stripe.cancel_subscription(
                subscription_id=individual, idempotency_key=f"convert-{individual}"
            )

    return handle


async def on_memberships_added(session: AsyncSession, events: Sequence[Envelope]) -> None:
    """Every signup brings one: a run is recorded with one statement."""
    added = [event.payload(MembershipAdded) for event in events]
    await record_members(session, members=[(data.org_id, data.user_id, data.role) for data in added])


async def on_membership_role_changed(session: AsyncSession, event: Envelope) -> None:
    data = event.payload(MembershipRoleChanged)
    await record_member(session, org_id=data.org_id, user_id=data.user_id, role=data.role)


async def on_membership_removed(session: AsyncSession, event: Envelope) -> None:
    data = event.payload(MembershipRemoved)
    await forget_member(session, org_id=data.org_id, user_id=data.user_id)


async def on_users_created(session: AsyncSession, events: Sequence[Envelope]) -> None:
    """Every signup brings one: a run of addresses is recorded with one statement."""
    created = [event.payload(UserCreated) for event in events]
    await record_addresses(
        session, users=[(data.user_id, data.email, data.email_verified) for data in created]
    )


async def on_user_updated(session: AsyncSession, event: Envelope) -> None:
    data = event.payload(UserUpdated)
    await record_addresses(session, users=[(data.user_id, data.email, data.email_verified)])


async def on_user_deleted(session: AsyncSession, event: Envelope) -> None:
    await forget_address(session, user_id=event.payload(UserDeleted).user_id)


SKOOL = "skool"


async def on_entitlement_granted(session: AsyncSession, event: Envelope) -> None:
    data = event.payload(OrgEntitlementGranted)
    if data.source != SKOOL:
        log.warning("org.entitlement_granted %s from unknown source %r: ignored", event.id, data.source)
        return
    await apply_skool_subscribed(
        session, org_id=data.org_id, occurred_at=data.occurred_at, period_end=data.period_end
    )


async def on_entitlement_ended(session: AsyncSession, event: Envelope) -> None:
    data = event.payload(OrgEntitlementEnded)
    if data.source != SKOOL:
        log.warning("org.entitlement_ended %s from unknown source %r: ignored", event.id, data.source)
        return
    await apply_skool_cancelled(
        session, org_id=data.org_id, occurred_at=data.occurred_at, period_end=data.period_end
    )


ENTITLEMENT_HANDLERS: dict[str, EventHandler] = {
    OrgEntitlementGranted.event_type: on_entitlement_granted,
    OrgEntitlementEnded.event_type: on_entitlement_ended,
}


def build_subscriptions(stripe: StripeGateway) -> tuple[Subscription, ...]:
    """billing's consumers; the conversion handler cancels individual subscriptions in Stripe."""
    return (
        Subscription(
            topic=WORKSPACE_ORGS,
            handlers={
                OrgConverted.event_type: on_org_converted(stripe),
                # A signup brings one of each, alternating on the topic: applied together per run.
                **batched_together(
                    {OrgCreated.event_type: on_orgs_created, MembershipAdded.event_type: on_memberships_added}
                ),
                MembershipRoleChanged.event_type: on_membership_role_changed,
                MembershipRemoved.event_type: on_membership_removed,
                **ENTITLEMENT_HANDLERS,
            },
        ),
        Subscription(
            topic=IDENTITY_USERS,
            handlers={
                UserCreated.event_type: Batched(on_users_created),
                UserUpdated.event_type: on_user_updated,
                UserDeleted.event_type: on_user_deleted,
            },
        ),
    )
