"""What an org may use and what it uses: plan, status, features, limits and usage."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from billing.catalog import load_catalog
from billing.schemas import Entitlements, Limits, Usage
from billing.service.members import count_members
from billing.service.meters import GAUGE_PERIOD, SCENARIOS, SESSIONS, month_of, next_month
from billing.service.subscriptions import read_subscription
from shared.db.tables import utcnow

_USED = text(
    "SELECT meter, used FROM usage_counters WHERE org_id = :org_id AND "
    "((meter = :sessions AND period = :month) OR (meter = :scenarios AND period = :gauge))"
)


async def get_entitlements(session: AsyncSession, *, org_id: str) -> Entitlements:
    """The org's entitlements with this month's session use, scenarios held and seats taken."""
    subscription = await read_subscription(session, org_id=org_id)
    plan = load_catalog().get(subscription.plan)
    month = month_of(utcnow())
    rows = await session.execute(
        _USED,
        {
            "org_id": org_id,
            "sessions": SESSIONS,
            "scenarios": SCENARIOS,
            "month": month,
            "gauge": GAUGE_PERIOD,
        },
    )
    used = {row.meter: int(row.used) for row in rows}
    return Entitlements(
        org_id=org_id,
        plan=plan.code,
        kind=plan.kind,
        status=subscription.status,
        current_period_end=subscription.current_period_end,
        cancel_at_period_end=subscription.cancel_at_period_end,
        features=plan.features,
        limits=Limits(
            seats=plan.limits.seats,
            sessions_per_month=plan.limits.sessions_per_month,
            scenarios=plan.limits.scenarios,
        ),
        usage=Usage(
            seats=await count_members(session, org_id=org_id),
            sessions=used.get(SESSIONS, 0),
            scenarios=used.get(SCENARIOS, 0),
        ),
        sessions_reset_at=next_month(month),
    )
