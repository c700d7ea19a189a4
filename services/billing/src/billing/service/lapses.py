"""What happens when time passes: a past-due grace ends, a trial ends, a cancelled period ends.

`apply_change` keeps `lapse_schedule` (one row per org that has something due, not under RLS so
a job can read it across orgs); `lapse_due_subscriptions` is run by a scheduled in-process job
(app.py) and never by a reader, so reading entitlements has no side effect.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from billing.catalog import load_catalog
from billing.models import Subscription
from shared.db.tables import utcnow

PAST_DUE = "past_due"
PERIOD_END = "period_end"

_SCHEDULE = text(
    "INSERT INTO lapse_schedule (org_id, reason, due_at) VALUES (:org_id, :reason, :due_at) "
    "ON CONFLICT (org_id) DO UPDATE SET reason = excluded.reason, due_at = excluded.due_at"
)
_UNSCHEDULE = text("DELETE FROM lapse_schedule WHERE org_id = :org_id")
_DUE = text(
    "SELECT org_id FROM lapse_schedule WHERE (reason = 'period_end' AND due_at <= :now) "
    "OR (reason = 'past_due' AND due_at <= :grace_started_before) "
    "ORDER BY due_at LIMIT :batch FOR UPDATE SKIP LOCKED"
)


def due_lapse(subscription: Subscription) -> tuple[str, datetime] | None:
    """What, if anything, is due for this subscription, and from when."""
    free = load_catalog().free_plan(subscription.kind).code
    if subscription.status == "past_due" and subscription.plan != free and subscription.past_due_since:
        return PAST_DUE, subscription.past_due_since
    period_end = subscription.current_period_end
    if period_end is None or subscription.plan == free:
        return None
    if subscription.cancel_at_period_end:
        return PERIOD_END, period_end
    if subscription.status == "trialing" and subscription.stripe_subscription_id is None:
        return PERIOD_END, period_end
    return None


async def schedule_lapse(session: AsyncSession, subscription: Subscription) -> None:
    """Keep the org's row in the lapse schedule in step with its subscription."""
    due = due_lapse(subscription)
    if due is None:
        await session.execute(_UNSCHEDULE, {"org_id": subscription.org_id})
    else:
        reason, due_at = due
        await session.execute(_SCHEDULE, {"org_id": subscription.org_id, "reason": reason, "due_at": due_at})


async def due_orgs(session: AsyncSession, *, grace: timedelta, now: datetime, batch: int = 100) -> list[str]:
    """Orgs whose grace, trial or cancelled period has ended (locked, skipping ones another
    replica is handling)."""
    params = {"now": now, "grace_started_before": now - grace, "batch": batch}
    rows = await session.execute(_DUE, params)
    return [str(row.org_id) for row in rows]


def lapse_outcome(subscription: Subscription, *, grace: timedelta, now: datetime) -> tuple[str, bool] | None:
    """The (status, clear the period) the org falls back to its kind's free plan with, if due now."""
    due = due_lapse(subscription)
    if due is None:
        return None
    reason, since = due
    if reason == PAST_DUE:
        return ("past_due", False) if since + grace <= now else None
    if since > now:
        return None
    return ("canceled", True) if subscription.cancel_at_period_end else ("active", True)


def now_utc() -> datetime:
    return utcnow()
