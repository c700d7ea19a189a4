"""Stripe Checkout and the customer portal for an org (one Stripe customer per org)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from billing.catalog import load_catalog
from billing.errors import AlreadyOnPlan, PlanKindMismatch, PlanNotPurchasable, UnknownPlan
from billing.models import Subscription
from billing.schemas import CheckoutRead
from billing.service.access import require_admin_of_team, require_member
from billing.service.members import count_members
from billing.service.stripe_events import link
from billing.service.subscriptions import read_subscription
from billing.stripe_gateway import StripeGateway
from shared.auth import Principal

# A Stripe subscription in these states is the org's current plan (buying it again makes no sense).
CURRENT = {"active", "trialing", "past_due"}


async def start_checkout(
    session: AsyncSession,
    stripe: StripeGateway,
    *,
    org_id: str,
    plan_code: str,
    interval: str,
    principal: Principal | None,
    before_stripe: Callable[[], None] = lambda: None,
) -> CheckoutRead:
    """A Stripe Checkout session for the plan: personal orgs buy individual plans, team orgs team
    plans (their admins only); free, business and enterprise are not sold here. `before_stripe`
    runs once the request is allowed, before Stripe is called (the per-org throttle)."""
    subscription = await read_subscription(session, org_id=org_id)
    role = await require_member(session, org_id=org_id, principal=principal)
    require_admin_of_team(role=role, is_personal=subscription.is_personal)
    plan = load_catalog().plans.get(plan_code)
    if plan is None:
        raise UnknownPlan(f"there is no plan {plan_code!r}")
    if plan.kind != subscription.kind:
        raise PlanKindMismatch(f"a {subscription.kind} org cannot buy the {plan.kind} plan {plan.code}")
    price_id = plan.stripe_prices.get(interval)
    if not plan.purchasable or price_id is None:
        raise PlanNotPurchasable(f"the {plan.code} plan is not sold through checkout")
    if (
        subscription.plan == plan.code
        and subscription.stripe_subscription_id
        and subscription.status in CURRENT
    ):
        raise AlreadyOnPlan(f"the org is already on {plan.code}")
    before_stripe()
    customer_id = await ensure_customer(session, stripe, subscription=subscription)
    # Team plans are priced per seat: the checkout starts with the seats in use (at least one).
    seats = max(await count_members(session, org_id=org_id), 1) if plan.per_seat else 1
    checkout = await stripe.create_checkout_session(
        customer_id=customer_id,
        org_id=org_id,
        plan=plan.code,
        price_id=price_id,
        quantity=seats,
        idempotency_key=f"checkout-{org_id}-{uuid.uuid4()}",
    )
    return CheckoutRead(url=checkout.url, session_id=checkout.id)


async def open_portal(
    session: AsyncSession,
    stripe: StripeGateway,
    *,
    org_id: str,
    principal: Principal | None,
    before_stripe: Callable[[], None] = lambda: None,
) -> str:
    """A Stripe customer-portal URL for the org (invoices, payment method, cancellation)."""
    subscription = await read_subscription(session, org_id=org_id)
    role = await require_member(session, org_id=org_id, principal=principal)
    require_admin_of_team(role=role, is_personal=subscription.is_personal)
    before_stripe()
    customer_id = await ensure_customer(session, stripe, subscription=subscription)
    return await stripe.create_portal_session(
        customer_id=customer_id, idempotency_key=f"portal-{uuid.uuid4()}"
    )


async def ensure_customer(session: AsyncSession, stripe: StripeGateway, *, subscription: Subscription) -> str:
    """The org's Stripe customer, created on first need (its idempotency key is the org's, so two
    concurrent first checkouts still make one customer)."""
    if subscription.stripe_customer_id:
        return subscription.stripe_customer_id
    customer_id = await stripe.create_customer(org_id=subscription.org_id, kind=subscription.kind)
    subscription.stripe_customer_id = customer_id
    session.add(subscription)
    await link(session, stripe_id=customer_id, org_id=subscription.org_id)
    await session.flush()
    return customer_id
