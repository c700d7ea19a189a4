"""Each org's plan, limits and features: a projection of billing's `subscription.changed`.

billing owns the catalog. workspace keeps what billing last said per org, and, for the moment
between an org's creation and billing's first word (normally milliseconds), a provisional view
of the plan the org starts on. It also knows which plan codes are team plans, to refuse an
individual plan at conversion (docs/workspaces.md, "Plans").
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, Text, Uuid, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from shared.db.tenancy import set_tenants
from shared.events.schemas.billing import SubscriptionChanged
from workspace.models import OrgPlan

INDIVIDUAL_PLANS = frozenset({"individual_free", "individual_pro", "individual_ultra"})
TEAM_PLANS = frozenset({"free", "starter", "professional", "business", "enterprise"})
DEFAULT_CONVERSION_PLAN = "starter"
PERSONAL_START_PLAN = "individual_free"
TEAM_START_PLAN = "free"
FEATURES = (
    "voice_training",
    "ai_feedback",
    "transcript_access",
    "performance_analytics",
    "ai_scenario_generation",
    "team_management",
    "leaderboards",
    "custom_voices",
    "api_access",
    "priority_support",
)


@dataclass(frozen=True)
class PlanView:
    """What the context shows of an org's plan."""

    plan: str
    limits: dict[str, int | None]
    features: dict[str, bool] = field(default_factory=dict)


def _flags(*enabled: str) -> dict[str, bool]:
    return {name: name in enabled for name in FEATURES}


# The two plans an org starts on, as billing's catalog (plans.yaml) defines them; shown only
# until billing's first subscription.changed for the org arrives.
PROVISIONAL = {
    PERSONAL_START_PLAN: PlanView(
        plan=PERSONAL_START_PLAN,
        limits={"seats": 1, "sessions_per_month": 10, "scenarios": 3},
        features=_flags("voice_training", "ai_feedback", "transcript_access"),
    ),
    TEAM_START_PLAN: PlanView(
        plan=TEAM_START_PLAN,
        limits={"seats": 3, "sessions_per_month": 30, "scenarios": 5},
        features=_flags(
            "voice_training", "ai_feedback", "transcript_access", "team_management", "leaderboards"
        ),
    ),
}
LIMIT_NAMES = ("seats", "sessions_per_month", "scenarios")


def start_plan(*, is_personal: bool) -> str:
    return PERSONAL_START_PLAN if is_personal else TEAM_START_PLAN


def _view(row: OrgPlan) -> PlanView:
    limits: dict[str, Any] = row.limits
    return PlanView(
        plan=row.plan,
        limits={name: limits.get(name) for name in LIMIT_NAMES},
        features={name: bool(row.features.get(name, False)) for name in FEATURES},
    )


async def plan_of(session: AsyncSession, *, org_id: uuid.UUID, is_personal: bool) -> PlanView:
    """The org's plan as billing last announced it (the tenant must be set to the org)."""
    row = await session.get(OrgPlan, org_id)
    if row is None:
        return PROVISIONAL[start_plan(is_personal=is_personal)]
    return _view(row)


async def plans_of(
    session: AsyncSession, *, org_ids: list[uuid.UUID], personal: dict[uuid.UUID, bool]
) -> dict[uuid.UUID, PlanView]:
    """Plans of several orgs (under a user directory scope that shows them)."""
    rows = (await session.execute(select(OrgPlan).where(col(OrgPlan.org_id).in_(org_ids)))).scalars()
    found = {row.org_id: _view(row) for row in rows}
    return {
        org_id: found.get(org_id) or PROVISIONAL[start_plan(is_personal=personal[org_id])]
        for org_id in org_ids
    }


# Built once: one statement for a run of changes (every signup brings one).
_UPSERT_NEWER_PLANS = text(
    "INSERT INTO org_plans (org_id, plan, plan_kind, status, version, limits, features) "
    "SELECT new.org_id, new.plan, new.plan_kind, new.status, new.version, new.limits::jsonb, "
    "new.features::jsonb "
    "FROM unnest(:org_ids, :plans, :kinds, :statuses, :versions, :limits, :features) "
    "AS new(org_id, plan, plan_kind, status, version, limits, features) "
    "ON CONFLICT (org_id) DO UPDATE SET plan = excluded.plan, plan_kind = excluded.plan_kind, "
    "status = excluded.status, version = excluded.version, limits = excluded.limits, "
    "features = excluded.features, updated_at = now() "
    "WHERE org_plans.version < excluded.version"
).bindparams(
    bindparam("org_ids", type_=ARRAY(Uuid())),
    *(bindparam(name, type_=ARRAY(Text())) for name in ("plans", "kinds", "statuses", "limits", "features")),
    bindparam("versions", type_=ARRAY(BigInteger())),
)


async def apply_subscription_changes(
    session: AsyncSession, *, changes: Sequence[SubscriptionChanged]
) -> None:
    """Keep billing's newest word on each org's plan; an older version arriving late changes nothing."""
    newest: dict[uuid.UUID, SubscriptionChanged] = {}
    for change in changes:  # one statement may not update a row twice: the highest version per org
        org_id = uuid.UUID(change.org_id)
        if org_id not in newest or newest[org_id].version < change.version:
            newest[org_id] = change
    if not newest:
        return
    await set_tenants(session, newest)
    kept = list(newest.values())
    await session.execute(
        _UPSERT_NEWER_PLANS,
        {
            "org_ids": list(newest),
            "plans": [change.plan for change in kept],
            "kinds": [change.plan_kind for change in kept],
            "statuses": [change.status for change in kept],
            "versions": [change.version for change in kept],
            "limits": [change.limits.model_dump_json() for change in kept],
            "features": [json.dumps(change.features) for change in kept],
        },
    )
