"""identity's consumers: keep claims current from workspace and billing events.

The plan in the claims is billing's word only (`subscription.changed`), never the plan an
`org.created` asks for: complete claims mean billing knows the org, so a client holding a token
can call billing's quota and entitlements at once (docs/performance.md, issue 17)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from identity.service.claims import (
    MembershipFact,
    OrgPlanFact,
    add_memberships,
    change_role,
    mark_org_converted,
    remove_membership,
    set_org_plans,
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
from shared.messaging.consumer import Batched
from shared.runtime import Subscription


async def on_memberships_added(session: AsyncSession, events: Sequence[Envelope]) -> None:
    facts = []
    for event in events:
        data = event.payload(MembershipAdded)
        facts.append(MembershipFact(data.user_id, data.org_id, data.role, data.is_personal_org))
    await add_memberships(session, memberships=facts)


async def on_membership_role_changed(session: AsyncSession, event: Envelope) -> None:
    data = event.payload(MembershipRoleChanged)
    await change_role(session, user_id=data.user_id, org_id=data.org_id, role=data.role)


async def on_membership_removed(session: AsyncSession, event: Envelope) -> None:
    data = event.payload(MembershipRemoved)
    await remove_membership(session, user_id=data.user_id, org_id=data.org_id)


async def on_org_converted(session: AsyncSession, event: Envelope) -> None:
    data = event.payload(OrgConverted)
    await mark_org_converted(session, org_id=data.org_id, owner_user_id=data.owner_user_id)


async def on_subscriptions_changed(session: AsyncSession, events: Sequence[Envelope]) -> None:
    facts = []
    for event in events:
        data = event.payload(SubscriptionChanged)
        facts.append(OrgPlanFact(data.org_id, data.plan, data.version))
    await set_org_plans(session, plans=facts)


SUBSCRIPTIONS = (
    Subscription(
        topic=WORKSPACE_ORGS,
        handlers={
            MembershipAdded.event_type: Batched(on_memberships_added),
            MembershipRoleChanged.event_type: on_membership_role_changed,
            MembershipRemoved.event_type: on_membership_removed,
            OrgConverted.event_type: on_org_converted,
        },
    ),
    Subscription(
        topic=BILLING_SUBSCRIPTIONS,
        handlers={SubscriptionChanged.event_type: Batched(on_subscriptions_changed)},
    ),
)
