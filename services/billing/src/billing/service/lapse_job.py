"""The scheduled job: subscriptions whose grace, trial or cancelled period has ended fall back to
their kind's free plan (limits follow through `subscription.changed`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from billing.catalog import load_catalog
from billing.service.lapses import due_orgs, lapse_outcome, schedule_lapse
from billing.service.subscriptions import apply_change, lock_subscription


async def lapse_due_subscriptions(session: AsyncSession, *, grace: timedelta, now: datetime) -> int:
    """Apply every lapse due at `now`; returns how many subscriptions changed."""
    changed = 0
    for org_id in await due_orgs(session, grace=grace, now=now):
        subscription = await lock_subscription(session, org_id=org_id)
        if subscription is None:
            continue
        outcome = lapse_outcome(subscription, grace=grace, now=now)
        if outcome is None:
            await schedule_lapse(session, subscription)  # resynchronise a stale entry
            continue
        status, clear_period = outcome
        changed += await apply_change(
            session,
            subscription,
            plan=load_catalog().free_plan(subscription.kind),
            status=status,
            clear_period_end=clear_period,
            cancel_at_period_end=False,
        )
    return changed
