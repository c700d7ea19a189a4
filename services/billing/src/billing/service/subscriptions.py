"""Org subscriptions: started by `org.created`, moved by conversions, Stripe and the lapse job.

Every change goes through `apply_change`, which bumps `version` and announces
`subscription.changed` in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Boolean, Text, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from billing.catalog import PERSONAL_DEFAULT_PLAN, TEAM_DEFAULT_PLAN, Plan, load_catalog
from billing.errors import OrgNotFound, SubscriptionNotFound
from billing.models import Subscription
from billing.schemas import SubscriptionRead
from billing.service.lapses import schedule_lapse
from billing.service.trials import claim_conversion_trial
from shared.db.tables import utcnow
from shared.db.tenancy import set_tenant, set_tenants
from shared.events.schemas.billing import SubscriptionChanged
from shared.outbox import NewEvent, record_event, record_events

SOURCE = "billing"
SKOOL = "skool"
SKOOL_PLAN = "business"
CONVERSION_DEFAULT_PLAN = "starter"
TRIAL = timedelta(days=14)
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
    provisioned_for: str | None = None
    traceparent: str | None = None


def initial_plan_for(*, requested: str, is_personal: bool, provisioned_for: str | None = None) -> Plan:
    """The plan a new org starts on: `business` for a team org provisioned for Skool, else the
    requested one if it fits the org's kind, else the kind's default."""
    catalog = load_catalog()
    kind = "personal" if is_personal else "team"
    if provisioned_for == SKOOL and not is_personal:
        return catalog.get(SKOOL_PLAN)
    plan = catalog.plans.get(requested)
    if plan is not None and plan.kind == kind:
        return plan
    return catalog.get(PERSONAL_DEFAULT_PLAN if is_personal else TEAM_DEFAULT_PLAN)


async def start_subscriptions(session: AsyncSession, *, orgs: Sequence[NewOrg]) -> list[str]:
    """Start each new org on its initial plan (version 1), skipping orgs that have a subscription;
    returns the ids of the orgs started."""
    if not orgs:
        return []
    plans = [
        initial_plan_for(
            requested=org.requested_plan, is_personal=org.is_personal, provisioned_for=org.provisioned_for
        )
        for org in orgs
    ]
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
            changed_event(org_id=org.org_id, plan=plan, status="active", version=1),
            traceparent=org.traceparent,
        )
        for org, plan in zip(orgs, plans, strict=True)
        if org.org_id in started
    ]
    await record_events(session, source=SOURCE, events=announcements)
    return [event.subject for event in announcements]


async def lock_subscription(session: AsyncSession, *, org_id: str) -> Subscription | None:
    """The org's subscription row, locked until the transaction ends (changes are serialised)."""
    await set_tenant(session, org_id)
    return await session.get(Subscription, org_id, with_for_update=True, populate_existing=True)


async def apply_change(
    session: AsyncSession,
    subscription: Subscription,
    *,
    plan: Plan | None = None,
    status: str | None = None,
    current_period_end: datetime | None = None,
    clear_period_end: bool = False,
    cancel_at_period_end: bool | None = None,
) -> bool:
    """Change what is given; if anything changed, bump the version and announce it.
    Returns whether anything changed."""
    before = _visible_state(subscription)
    if plan is not None:
        subscription.plan = plan.code
    if status is not None:
        subscription.status = status
    if current_period_end is not None or clear_period_end:
        subscription.current_period_end = current_period_end
    if cancel_at_period_end is not None:
        subscription.cancel_at_period_end = cancel_at_period_end
    session.add(subscription)
    await schedule_lapse(session, subscription)
    if _visible_state(subscription) == before:
        await session.flush()
        return False
    subscription.version += 1
    subscription.updated_at = utcnow()
    await session.flush()
    await record_event(
        session,
        source=SOURCE,
        subject=subscription.org_id,
        data=changed_event(
            org_id=subscription.org_id,
            plan=load_catalog().get(subscription.plan),
            status=subscription.status,
            version=subscription.version,
            current_period_end=subscription.current_period_end,
            cancel_at_period_end=subscription.cancel_at_period_end,
        ),
    )
    return True


async def convert_to_team(
    session: AsyncSession, *, org_id: str, requested_plan: str, owner_user_id: str
) -> str | None:
    """A personal org became a team org. The owner's first conversion moves it to the chosen team
    plan (default `starter`) on a 14-day trial; a later conversion by the same person (their user
    id, or their address: `service.trials`) starts on the team `free` plan, `active`, no trial.
    Returns the individual Stripe subscription the caller must cancel, if any."""
    subscription = await lock_subscription(session, org_id=org_id)
    if subscription is None:
        raise SubscriptionNotFound(f"org {org_id} has no subscription")
    if not subscription.is_personal:
        return None  # already converted: a redelivery
    individual = subscription.stripe_subscription_id if subscription.status != "canceled" else None
    catalog = load_catalog()
    plan = catalog.plans.get(requested_plan)
    if plan is None or plan.kind != "team" or not plan.purchasable:
        plan = catalog.get(CONVERSION_DEFAULT_PLAN)
    subscription.is_personal = False
    subscription.stripe_plan = None
    subscription.stripe_subscription_id = None
    subscription.stripe_event_created = None
    subscription.past_due_since = None
    if await claim_conversion_trial(session, org_id=org_id, owner_user_id=owner_user_id):
        trial_end: datetime | None = utcnow() + TRIAL
        status = "trialing"
    else:
        plan, trial_end, status = catalog.get(TEAM_DEFAULT_PLAN), None, "active"
    await apply_change(
        session,
        subscription,
        plan=plan,
        status=status,
        current_period_end=trial_end,
        clear_period_end=trial_end is None,
        cancel_at_period_end=False,
    )
    return individual


def changed_event(
    *,
    org_id: str,
    plan: Plan,
    status: str,
    version: int,
    current_period_end: datetime | None = None,
    cancel_at_period_end: bool = False,
) -> SubscriptionChanged:
    return SubscriptionChanged(
        org_id=org_id,
        plan=plan.code,
        plan_kind=plan.kind,
        status=status,
        version=version,
        limits=plan.limits,
        features=plan.features,
        current_period_end=current_period_end,
        cancel_at_period_end=cancel_at_period_end,
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


async def read_subscription(session: AsyncSession, *, org_id: str) -> Subscription:
    """The org's subscription row; 404 `org_not_found` for an org billing does not know."""
    await set_tenant(session, org_id)
    subscription = await session.get(Subscription, org_id)
    if subscription is None:
        raise OrgNotFound(f"org {org_id} not found")
    return subscription


def _visible_state(subscription: Subscription) -> tuple[object, ...]:
    return (
        subscription.plan,
        subscription.status,
        subscription.is_personal,
        subscription.current_period_end,
        subscription.cancel_at_period_end,
    )
