"""Claims: which org, role and plan a user's tokens speak for, kept current from events."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from identity.errors import UserNotFound
from identity.models import MembershipView, OrgPlanView, User, UserClaims
from identity.schemas import ClaimsRead

# Built once: the projections are written for every membership and plan event.
_membership_upsert = insert(MembershipView.__table__)  # type: ignore[attr-defined]
_UPSERT_MEMBERSHIP = _membership_upsert.on_conflict_do_update(
    index_elements=["user_id", "org_id"],
    set_={
        "role": _membership_upsert.excluded.role,
        "is_personal_org": _membership_upsert.excluded.is_personal_org,
    },
)
_FIRST_ACTIVE_ORG = insert(UserClaims.__table__).on_conflict_do_nothing(  # type: ignore[attr-defined]
    index_elements=["user_id"]
)
_plan_upsert = insert(OrgPlanView.__table__)  # type: ignore[attr-defined]
_UPSERT_NEWER_PLAN = _plan_upsert.on_conflict_do_update(
    index_elements=["org_id"],
    set_={"plan": _plan_upsert.excluded.plan, "version": _plan_upsert.excluded.version},
    where=col(OrgPlanView.version) < _plan_upsert.excluded.version,
)


async def add_membership(
    session: AsyncSession, *, user_id: str, org_id: str, role: str, is_personal_org: bool
) -> None:
    """Project a membership; a user's first membership becomes their active org."""
    await session.execute(
        _UPSERT_MEMBERSHIP,
        {"user_id": user_id, "org_id": org_id, "role": role, "is_personal_org": is_personal_org},
    )
    await session.execute(_FIRST_ACTIVE_ORG, {"user_id": user_id, "active_org_id": org_id})


async def set_org_plan(session: AsyncSession, *, org_id: str, plan: str, version: int) -> None:
    """Project an org's plan, keeping only the newest version (events may come late)."""
    await session.execute(_UPSERT_NEWER_PLAN, {"org_id": org_id, "plan": plan, "version": version})


async def get_claims(session: AsyncSession, *, user_id: str) -> ClaimsRead:
    """The user's current claims; org fields are null until their first membership arrives."""
    user = await session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise UserNotFound(f"no user {user_id}")
    row = (
        await session.execute(
            select(
                col(MembershipView.org_id),
                col(MembershipView.role),
                col(MembershipView.is_personal_org),
                col(OrgPlanView.plan),
            )
            .select_from(UserClaims)
            .join(
                MembershipView,
                (col(MembershipView.user_id) == col(UserClaims.user_id))
                & (col(MembershipView.org_id) == col(UserClaims.active_org_id)),
            )
            .outerjoin(OrgPlanView, col(OrgPlanView.org_id) == col(UserClaims.active_org_id))
            .where(col(UserClaims.user_id) == user_id)
        )
    ).first()
    if row is None:
        return ClaimsRead(user_id=user_id, org_id=None, org_role=None, is_personal_org=None, plan=None)
    return ClaimsRead(
        user_id=user_id,
        org_id=row.org_id,
        org_role=row.role,
        is_personal_org=row.is_personal_org,
        plan=row.plan,
    )
