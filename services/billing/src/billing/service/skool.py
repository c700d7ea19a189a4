"""Skool entitlements on an org (workspace's `org.entitlement_granted` / `org.entitlement_ended`,
source "skool"): granted puts the org on `business`; ended returns it to the free team plan at
the period end the event carries (the lapse job does it then; at once without one). Among one
org's Skool events the newest `occurred_at` wins (see docs/billing.md, docs/skool.md)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from billing.catalog import load_catalog
from billing.models import Subscription
from billing.service.subscriptions import SKOOL_PLAN, apply_change, lock_subscription
from shared.db.tables import utcnow

log = logging.getLogger(__name__)


async def _take_newer_word(
    session: AsyncSession, *, org_id: str, occurred_at: datetime
) -> Subscription | None:
    """The team org's subscription, locked and marked with `occurred_at`; None when there is none
    or Skool already said something newer about it."""
    subscription = await lock_subscription(session, org_id=org_id)
    if (
        subscription is None
        or subscription.is_personal
        or _stale(subscription.skool_occurred_at, occurred_at)
    ):
        return None
    subscription.skool_occurred_at = occurred_at
    return subscription


async def apply_skool_subscribed(
    session: AsyncSession, *, org_id: str, occurred_at: datetime, period_end: datetime | None
) -> bool:
    """The org's Skool membership is paid: `business`, active (renewals move the period end)."""
    subscription = await _take_newer_word(session, org_id=org_id, occurred_at=occurred_at)
    if subscription is None:
        return False
    return await apply_change(
        session,
        subscription,
        plan=load_catalog().get(SKOOL_PLAN),
        status="active",
        current_period_end=period_end,
        clear_period_end=period_end is None,
        cancel_at_period_end=False,
    )


async def apply_skool_cancelled(
    session: AsyncSession, *, org_id: str, occurred_at: datetime, period_end: datetime | None
) -> bool:
    """The Skool membership ends: free team plan at `period_end`, or at once."""
    subscription = await _take_newer_word(session, org_id=org_id, occurred_at=occurred_at)
    if subscription is None:
        return False
    if subscription.plan != SKOOL_PLAN:
        session.add(subscription)
        return False  # the org has moved on (bought a plan): nothing of Skool's to end
    if period_end is not None and period_end > utcnow():
        return await apply_change(
            session, subscription, current_period_end=period_end, cancel_at_period_end=True
        )
    return await apply_change(
        session,
        subscription,
        plan=load_catalog().free_plan("team"),
        status="canceled",
        clear_period_end=True,
        cancel_at_period_end=False,
    )


def _stale(applied: datetime | None, occurred_at: datetime) -> bool:
    return applied is not None and occurred_at < applied
