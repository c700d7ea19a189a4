"""invites's consumers: projections of orgs, memberships, seat limits and users, and the
redemption of the invitation a new user signed up with."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from invites.service.projections import (
    forget_member,
    record_archived,
    record_member,
    record_org,
    record_seat_limit,
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
from shared.messaging.consumer import Batched
from shared.runtime import Subscription


async def on_org_created(session: AsyncSession, event: Envelope) -> None:
    org = event.payload(OrgCreated)
    kind = "personal" if org.is_personal else org.kind
    await record_org(session, org_id=org.org_id, name=org.name, kind=kind)


async def on_org_converted(session: AsyncSession, event: Envelope) -> None:
    org = event.payload(OrgConverted)
    await record_org(session, org_id=org.org_id, name=org.name, kind="team")


async def on_org_archived(session: AsyncSession, event: Envelope) -> None:
    await record_archived(session, org_id=event.payload(OrgArchived).org_id, archived=True)


async def on_org_restored(session: AsyncSession, event: Envelope) -> None:
    await record_archived(session, org_id=event.payload(OrgRestored).org_id, archived=False)


async def on_membership_added(session: AsyncSession, event: Envelope) -> None:
    added = event.payload(MembershipAdded)
    await record_member(session, org_id=added.org_id, user_id=added.user_id, role=added.role)


async def on_membership_role_changed(session: AsyncSession, event: Envelope) -> None:
    changed = event.payload(MembershipRoleChanged)
    await record_member(session, org_id=changed.org_id, user_id=changed.user_id, role=changed.role)


async def on_membership_removed(session: AsyncSession, event: Envelope) -> None:
    removed = event.payload(MembershipRemoved)
    await forget_member(session, org_id=removed.org_id, user_id=removed.user_id)


async def on_subscription_changed(session: AsyncSession, event: Envelope) -> None:
    changed = event.payload(SubscriptionChanged)
    await record_seat_limit(
        session,
        org_id=changed.org_id,
        seats=changed.limits.seats,
        plan=changed.plan,
        version=changed.version,
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
            OrgCreated.event_type: on_org_created,
            OrgConverted.event_type: on_org_converted,
            OrgArchived.event_type: on_org_archived,
            OrgRestored.event_type: on_org_restored,
            MembershipAdded.event_type: on_membership_added,
            MembershipRoleChanged.event_type: on_membership_role_changed,
            MembershipRemoved.event_type: on_membership_removed,
        },
    ),
    Subscription(
        topic=BILLING_SUBSCRIPTIONS, handlers={SubscriptionChanged.event_type: on_subscription_changed}
    ),
    Subscription(
        topic=IDENTITY_USERS,
        handlers={UserCreated.event_type: Batched(on_users_created), UserUpdated.event_type: on_user_updated},
    ),
)
