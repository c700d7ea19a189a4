"""identity's consumers: keep claims current from workspace and billing events."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from identity.service.claims import add_membership, set_org_plan
from shared.events.envelope import Envelope
from shared.events.schemas.billing import SubscriptionChanged
from shared.events.schemas.workspace import MembershipAdded
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


async def on_subscription_changed(session: AsyncSession, event: Envelope) -> None:
    data = event.payload(SubscriptionChanged)
    await set_org_plan(session, org_id=data.org_id, plan=data.plan, version=data.version)


SUBSCRIPTIONS = (
    Subscription(topic=WORKSPACE_ORGS, handlers={MembershipAdded.event_type: on_membership_added}),
    Subscription(
        topic=BILLING_SUBSCRIPTIONS,
        handlers={SubscriptionChanged.event_type: on_subscription_changed},
    ),
)
