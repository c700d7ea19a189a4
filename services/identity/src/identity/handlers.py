"""identity's consumers: keep claims current from workspace and billing events."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from identity.service.claims import (
    add_membership,
    change_role,
    mark_org_converted,
    remove_membership,
    set_org_plan,
)
from shared.events.envelope import Envelope
from shared.events.schemas.billing import SubscriptionChanged
from shared.events.schemas.workspace import (
    MembershipAdded,
    MembershipRemoved,
    MembershipRoleChanged,
    OrgConverted,
)
from shared.events.topics import BILLING_SUBSCRIPTIONS, WORKSPACE_ORGS
from shared.runtime import Subscription


async def on_membership_added(session: AsyncSession, event: Envelope) -> None:
    data = event.payload(MembershipAdded)
    await add_membership(
        session,
        user_id=data.user_id,
        org_id=data.org_id,
        role=data.role,
        is_personal_org=data.is_personal_org,
    )


async def on_membership_role_changed(session: AsyncSession, event: Envelope) -> None:
    data = event.payload(MembershipRoleChanged)
    await change_role(session, user_id=data.user_id, org_id=data.org_id, role=data.role)


async def on_membership_removed(session: AsyncSession, event: Envelope) -> None:
    data = event.payload(MembershipRemoved)
    await remove_membership(session, user_id=data.user_id, org_id=data.org_id)


async def on_org_converted(session: AsyncSession, event: Envelope) -> None:
    data = event.payload(OrgConverted)
    await mark_org_converted(session, org_id=data.org_id, owner_user_id=data.owner_user_id)


async def on_subscription_changed(session: AsyncSession, event: Envelope) -> None:
    data = event.payload(SubscriptionChanged)
    await set_org_plan(session, org_id=data.org_id, plan=data.plan, version=data.version)


SUBSCRIPTIONS = (
    Subscription(
        topic=WORKSPACE_ORGS,
        handlers={
            MembershipAdded.event_type: on_membership_added,
            MembershipRoleChanged.event_type: on_membership_role_changed,
            MembershipRemoved.event_type: on_membership_removed,
            OrgConverted.event_type: on_org_converted,
        },
    ),
    Subscription(
        topic=BILLING_SUBSCRIPTIONS,
        handlers={SubscriptionChanged.event_type: on_subscription_changed},
    ),
)
