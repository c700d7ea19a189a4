"""Starting and reading org subscriptions; every change is announced as `subscription.changed`."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from billing.catalog import PERSONAL_DEFAULT_PLAN, TEAM_DEFAULT_PLAN, Plan, load_catalog
from billing.errors import SubscriptionNotFound
from billing.models import Subscription
from billing.schemas import SubscriptionRead
from shared.db.tenancy import set_tenant
from shared.events.schemas.billing import SubscriptionChanged
from shared.outbox import record_event

SOURCE = "billing"
# Built once: every new org runs it.
_START = (
    insert(Subscription.__table__)  # type: ignore[attr-defined]
    .on_conflict_do_nothing(index_elements=["org_id"])
    .returning(col(Subscription.org_id))
)


def initial_plan_for(*, requested: str, is_personal: bool) -> Plan:
    """The plan a new org starts on: the requested one if it fits the org's kind, else the default."""
    catalog = load_catalog()
    kind = "personal" if is_personal else "team"
    plan = catalog.plans.get(requested)
    if plan is not None and plan.kind == kind:
        return plan
    return catalog.get(PERSONAL_DEFAULT_PLAN if is_personal else TEAM_DEFAULT_PLAN)


async def start_subscription(
    session: AsyncSession, *, org_id: str, requested_plan: str, is_personal: bool
) -> bool:
    """Start a new org on its initial plan (version 1); False if it already has a subscription."""
    plan = initial_plan_for(requested=requested_plan, is_personal=is_personal)
    await set_tenant(session, org_id)
    values = {
        "org_id": org_id,
        "plan": plan.code,
        "status": "active",
        "version": 1,
        "is_personal": is_personal,
    }
    inserted = (await session.execute(_START, values)).first()
    if inserted is None:
        return False
    await record_event(
        session,
        source=SOURCE,
        subject=org_id,
        data=_changed(org_id=org_id, plan=plan, status="active", version=1),
    )
    return True


def _changed(*, org_id: str, plan: Plan, status: str, version: int) -> SubscriptionChanged:
    return SubscriptionChanged(
        org_id=org_id,
        plan=plan.code,
        plan_kind=plan.kind,
        status=status,
        version=version,
        limits=plan.limits,
        features=plan.features,
    )


async def get_subscription(session: AsyncSession, *, org_id: str) -> SubscriptionRead:
    """The org's subscription with its plan's limits and features."""
    await set_tenant(session, org_id)
    subscription = await session.get(Subscription, org_id)
    if subscription is None:
        raise SubscriptionNotFound(f"org {org_id} has no subscription")
    plan = load_catalog().get(subscription.plan)
    return SubscriptionRead(
        org_id=org_id,
        plan=plan.code,
        status=subscription.status,
        version=subscription.version,
        limits=plan.limits,
        features=plan.features,
    )
