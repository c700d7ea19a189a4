"""Starting and reading org subscriptions; every change is announced as `subscription.changed`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Boolean, Text

from billing.catalog import PERSONAL_DEFAULT_PLAN, TEAM_DEFAULT_PLAN, Plan, load_catalog
from billing.errors import SubscriptionNotFound
from billing.models import Subscription
from billing.schemas import SubscriptionRead
from shared.db.tenancy import set_tenant, set_tenants
from shared.events.schemas.billing import SubscriptionChanged
from shared.outbox import NewEvent, record_events

SOURCE = "billing"
# Built once, one statement for a whole batch of new orgs; an org that has a subscription
# already (a redelivered org.created) is skipped.
_START = text(
    "INSERT INTO subscriptions (org_id, plan, status, version, is_personal) "
    "SELECT new.org_id, new.plan, 'active', 1, new.is_personal "
    "FROM unnest(:org_ids, :plans, :personal) WITH ORDINALITY AS new(org_id, plan, is_personal, n) "
    "ORDER BY new.n "
    "ON CONFLICT (org_id) DO NOTHING RETURNING org_id"
).bindparams(
    bindparam("org_ids", type_=ARRAY(Text())),
    bindparam("plans", type_=ARRAY(Text())),
    bindparam("personal", type_=ARRAY(Boolean())),
)


@dataclass(frozen=True)
class NewOrg:
    """An org that needs its first subscription, and the trace of the event that announced it."""

    org_id: str
    requested_plan: str
    is_personal: bool
    traceparent: str | None = None


def initial_plan_for(*, requested: str, is_personal: bool) -> Plan:
    """The plan a new org starts on: the requested one if it fits the org's kind, else the default."""
    catalog = load_catalog()
    kind = "personal" if is_personal else "team"
    plan = catalog.plans.get(requested)
    if plan is not None and plan.kind == kind:
        return plan
    return catalog.get(PERSONAL_DEFAULT_PLAN if is_personal else TEAM_DEFAULT_PLAN)


async def start_subscriptions(session: AsyncSession, *, orgs: Sequence[NewOrg]) -> list[str]:
    """Start each new org on its initial plan (version 1), skipping orgs that have a subscription;
    returns the ids of the orgs started."""
    if not orgs:
        return []
    plans = [initial_plan_for(requested=org.requested_plan, is_personal=org.is_personal) for org in orgs]
    await set_tenants(session, [org.org_id for org in orgs])
    values = {
        "org_ids": [org.org_id for org in orgs],
        "plans": [plan.code for plan in plans],
        "personal": [org.is_personal for org in orgs],
    }
    started = {row[0] for row in await session.execute(_START, values)}
    announcements = [
        NewEvent(
            org.org_id,
            _changed(org_id=org.org_id, plan=plan, status="active", version=1),
            traceparent=org.traceparent,
        )
        for org, plan in zip(orgs, plans, strict=True)
        if org.org_id in started
    ]
    await record_events(session, source=SOURCE, events=announcements)
    return [event.subject for event in announcements]


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
