"""Claims: which org, role and plan a user's tokens speak for, kept current from events."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from identity.errors import UserNotFound
from identity.models import MembershipView, OrgPlanView, User, UserClaims
from identity.schemas import ClaimsRead


async def add_membership(
    session: AsyncSession, *, user_id: str, org_id: str, role: str, is_personal_org: bool
) -> None:
    """Project a membership; a user's first membership becomes their active org."""
    await session.execute(
        insert(MembershipView)
        .values(user_id=user_id, org_id=org_id, role=role, is_personal_org=is_personal_org)
        .on_conflict_do_update(
            index_elements=["user_id", "org_id"],
            set_={"role": role, "is_personal_org": is_personal_org},
        )
    )
    await session.execute(
        insert(UserClaims)
        .values(user_id=user_id, active_org_id=org_id)
        .on_conflict_do_nothing(index_elements=["user_id"])
    )


async def set_org_plan(session: AsyncSession, *, org_id: str, plan: str, version: int) -> None:
    """Project an org's plan, keeping only the newest version (events may come late)."""
    await session.execute(
        insert(OrgPlanView)
        .values(org_id=org_id, plan=plan, version=version)
        .on_conflict_do_update(
            index_elements=["org_id"],
            set_={"plan": plan, "version": version},
            where=col(OrgPlanView.version) < version,
        )
    )


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
