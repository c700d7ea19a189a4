"""identity's consumers: keep claims current from workspace and billing events.

A new org's plan is known as soon as workspace announces the org (`org.created` names the plan it
starts on, which billing confirms): identity projects it at once as a provisional version 0, so a
signup's claims are complete one hop after workspace, not three. Billing's `subscription.changed`
(version 1 and up) always wins over it, whichever arrives first (docs/performance.md)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from identity.service.claims import (
    PROVISIONAL_PLAN_VERSION,
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
    OrgCreated,
)
from shared.events.topics import BILLING_SUBSCRIPTIONS, WORKSPACE_ORGS
from shared.messaging.consumer import Batched, batched_together
from shared.runtime import Subscription


async def on_orgs_created(session: AsyncSession, events: Sequence[Envelope]) -> None:
    """The plan each new org starts on, until billing's own word on it arrives."""
    facts = []
    for event in events:
        data = event.payload(OrgCreated)
        facts.append(OrgPlanFact(data.org_id, data.initial_plan, PROVISIONAL_PLAN_VERSION))
    await set_org_plans(session, plans=facts)


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
            # A signup brings one of each, alternating on the topic: applied together per run.
            **batched_together(
                {OrgCreated.event_type: on_orgs_created, MembershipAdded.event_type: on_memberships_added}
            ),
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
