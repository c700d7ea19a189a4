"""invites's consumers: projections of orgs, memberships, seat limits and users, and the
redemption of the invitation a new user signed up with."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from invites.service.projections import (
    MemberFact,
    OrgFact,
    SeatFact,
    forget_member,
    record_archived,
    record_members,
    record_orgs,
    record_seat_limits,
    record_users,
)
from invites.service.signup import handle_signups
from shared.events.envelope import Envelope
from shared.events.schemas.billing import SubscriptionChanged
from shared.events.schemas.identity import UserCreated, UserUpdated
from shared.events.schemas.workspace import (
    MembershipAdded,
    MembershipRemoved,
    MembershipRoleChanged,
    OrgArchived,
    OrgConverted,
    OrgCreated,
    OrgRestored,
)
from shared.events.topics import BILLING_SUBSCRIPTIONS, IDENTITY_USERS, WORKSPACE_ORGS
from shared.messaging.consumer import Batched, batched_together
from shared.runtime import Subscription


async def on_orgs_created(session: AsyncSession, events: Sequence[Envelope]) -> None:
    """Every signup's personal org passes here: a run is written with one statement per table."""
    orgs = [event.payload(OrgCreated) for event in events]
    await record_orgs(
        session,
        orgs=[
            OrgFact(org.org_id, org.name, "personal" if org.is_personal else org.kind, org.owner_user_id)
            for org in orgs
        ],
    )


async def on_org_converted(session: AsyncSession, event: Envelope) -> None:
    org = event.payload(OrgConverted)
    await record_orgs(session, orgs=[OrgFact(org.org_id, org.name, "team", org.owner_user_id)])
    # Its owner is now its admin (invites kept no membership of the personal org).
    await record_members(session, members=[MemberFact(org.org_id, org.owner_user_id, "admin")])


async def on_org_archived(session: AsyncSession, event: Envelope) -> None:
    await record_archived(session, org_id=event.payload(OrgArchived).org_id, archived=True)


async def on_org_restored(session: AsyncSession, event: Envelope) -> None:
    await record_archived(session, org_id=event.payload(OrgRestored).org_id, archived=False)


async def on_memberships_added(session: AsyncSession, events: Sequence[Envelope]) -> None:
    """Team memberships only: a personal org's owner is known from its org.created."""
    added = [event.payload(MembershipAdded) for event in events]
    await record_members(
        session, members=[MemberFact(a.org_id, a.user_id, a.role) for a in added if not a.is_personal_org]
    )


async def on_membership_role_changed(session: AsyncSession, event: Envelope) -> None:
    changed = event.payload(MembershipRoleChanged)
    await record_members(session, members=[MemberFact(changed.org_id, changed.user_id, changed.role)])


async def on_membership_removed(session: AsyncSession, event: Envelope) -> None:
    removed = event.payload(MembershipRemoved)
    await forget_member(session, org_id=removed.org_id, user_id=removed.user_id)


async def on_subscriptions_changed(session: AsyncSession, events: Sequence[Envelope]) -> None:
    """Seat limits of team orgs (a personal org has no invitations, so no seats to count)."""
    changes = [event.payload(SubscriptionChanged) for event in events]
    await record_seat_limits(
        session,
        limits=[
            SeatFact(c.org_id, c.limits.seats, c.plan, c.version)
            for c in changes
            if c.plan_kind != "personal"
        ],
    )


async def on_users_created(session: AsyncSession, events: Sequence[Envelope]) -> None:
    """Every signup passes here: one statement for the run's emails, a redemption per invited one."""
    await handle_signups(session, users=[event.payload(UserCreated) for event in events])


async def on_user_updated(session: AsyncSession, event: Envelope) -> None:
    user = event.payload(UserUpdated)
    await record_users(session, users=[(user.user_id, user.email)])


SUBSCRIPTIONS = (
    Subscription(
        topic=WORKSPACE_ORGS,
        handlers={
            OrgConverted.event_type: on_org_converted,
            OrgArchived.event_type: on_org_archived,
            OrgRestored.event_type: on_org_restored,
            # A signup brings one of each, alternating on the topic: applied together per run.
            **batched_together(
                {OrgCreated.event_type: on_orgs_created, MembershipAdded.event_type: on_memberships_added}
            ),
            MembershipRoleChanged.event_type: on_membership_role_changed,
            MembershipRemoved.event_type: on_membership_removed,
        },
    ),
    Subscription(
        topic=BILLING_SUBSCRIPTIONS,
        handlers={SubscriptionChanged.event_type: Batched(on_subscriptions_changed)},
    ),
    Subscription(
        topic=IDENTITY_USERS,
        handlers={UserCreated.event_type: Batched(on_users_created), UserUpdated.event_type: on_user_updated},
    ),
)
