"""Claims: which org, role and plan a user's tokens speak for, kept current from events."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from identity.errors import NotAMember, UserNotFound
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


async def use_org(session: AsyncSession, *, user_id: str, org_id: str) -> None:
    """Make `org_id` the user's active org (what their tokens speak for by default)."""
    await _require_user(session, user_id=user_id)
    if await session.get(MembershipView, (user_id, org_id)) is None:
        raise NotAMember(f"user {user_id} is not a member of org {org_id}")
    await _set_active_org(session, user_id=user_id, org_id=org_id)


async def change_role(session: AsyncSession, *, user_id: str, org_id: str, role: str) -> None:
    """Project a role change (the user's next token carries it)."""
    await session.execute(
        update(MembershipView)
        .where(col(MembershipView.user_id) == user_id, col(MembershipView.org_id) == org_id)
        .values(role=role)
    )


async def remove_membership(session: AsyncSession, *, user_id: str, org_id: str) -> None:
    """Drop a membership; if it was the active org, fall back to the personal org, else the oldest
    membership, else to no org at all (tokens are then refused with `not_provisioned`)."""
    await session.execute(
        delete(MembershipView).where(
            col(MembershipView.user_id) == user_id, col(MembershipView.org_id) == org_id
        )
    )
    claims = await session.get(UserClaims, user_id, with_for_update=True)
    if claims is None or claims.active_org_id != org_id:
        return
    fallback = (
        await session.execute(
            select(col(MembershipView.org_id))
            .where(col(MembershipView.user_id) == user_id)
            .order_by(
                col(MembershipView.is_personal_org).desc(),
                col(MembershipView.added_at),
                col(MembershipView.org_id),
            )
            .limit(1)
        )
    ).scalar_one_or_none()
    if fallback is None:
        # No row: the next membership.added makes its org the active one again.
        await session.execute(delete(UserClaims).where(col(UserClaims.user_id) == user_id))
    else:
        await _set_active_org(session, user_id=user_id, org_id=fallback)


async def mark_org_converted(session: AsyncSession, *, org_id: str, owner_user_id: str) -> None:
    """A personal org became a team org: no member's claims call it personal, its owner is admin."""
    await session.execute(
        update(MembershipView).where(col(MembershipView.org_id) == org_id).values(is_personal_org=False)
    )
    await change_role(session, user_id=owner_user_id, org_id=org_id, role="admin")


async def _require_user(session: AsyncSession, *, user_id: str) -> None:
    user = await session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise UserNotFound(f"no user {user_id}")


async def _set_active_org(session: AsyncSession, *, user_id: str, org_id: str) -> None:
    upsert = insert(UserClaims).values(user_id=user_id, active_org_id=org_id)
    await session.execute(
        upsert.on_conflict_do_update(
            index_elements=["user_id"],
            set_={"active_org_id": upsert.excluded.active_org_id, "updated_at": func.now()},
            where=col(UserClaims.active_org_id) != upsert.excluded.active_org_id,
        )
    )


async def get_claims(session: AsyncSession, *, user_id: str) -> ClaimsRead:
    """The user's current claims; org fields are null until their first membership arrives."""
    await _require_user(session, user_id=user_id)
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
