"""The catalog's limits in the database (`plan_limits`), so the quota statement joins them.

Written at every start from plans.yaml (the one source); replicas starting together write the
same rows. A plan whose limits change in the file applies to every org on it at the next start.
"""

from __future__ import annotations

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Integer, Text

from billing.catalog import Catalog

_WRITE = text(
    "INSERT INTO plan_limits (plan, seats, sessions_per_month, scenarios, upgrade_to) "
    "SELECT * FROM unnest(:plans, :seats, :sessions, :scenarios, :upgrades) "
    "ON CONFLICT (plan) DO UPDATE SET seats = excluded.seats, "
    "sessions_per_month = excluded.sessions_per_month, scenarios = excluded.scenarios, "
    "upgrade_to = excluded.upgrade_to "
    "WHERE (plan_limits.seats, plan_limits.sessions_per_month, plan_limits.scenarios, "
    "plan_limits.upgrade_to) IS DISTINCT FROM "
    "(excluded.seats, excluded.sessions_per_month, excluded.scenarios, excluded.upgrade_to)"
).bindparams(
    bindparam("plans", type_=ARRAY(Text())),
    bindparam("seats", type_=ARRAY(Integer())),
    bindparam("sessions", type_=ARRAY(Integer())),
    bindparam("scenarios", type_=ARRAY(Integer())),
    bindparam("upgrades", type_=ARRAY(Text())),
)


async def write_plan_limits(session: AsyncSession, *, catalog: Catalog) -> None:
    """Make `plan_limits` say what the catalog says."""
    plans = list(catalog.plans.values())
    await session.execute(
        _WRITE,
        {
            "plans": [plan.code for plan in plans],
            "seats": [plan.limits.seats for plan in plans],
            "sessions": [plan.limits.sessions_per_month for plan in plans],
            "scenarios": [plan.limits.scenarios for plan in plans],
            "upgrades": [plan.upgrade_to for plan in plans],
        },
    )
