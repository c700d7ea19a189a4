"""Members of an org: list, add, change a role, remove or leave; the last-admin rule.

Every change locks the org's row first (`SELECT … FOR UPDATE`), then reads the actor's and the
target's roles: two admins demoting each other at the same moment are serialised, and the second
sees the first's effect (it is no longer an admin, or the other is the last one).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from shared.events.schemas.workspace import MembershipAdded, MembershipRemoved, MembershipRoleChanged
from shared.outbox import record_event
from workspace.errors import LastAdmin, MemberNotFound, PersonalOrgRefused
from workspace.models import MemberProfile, Membership, Org, Role
from workspace.service.orgs import SOURCE, get_member_org, lock_org, membership_of, record_activity
from workspace.service.permissions import Action, ensure_allowed


@dataclass(frozen=True)
class Member:
    user_id: str
    email: str | None
    role: str
    joined_at: datetime


async def list_members(session: AsyncSession, *, org_id: uuid.UUID, actor_id: str) -> list[Member]:
    """The org's members, oldest first (any member may list them)."""
    seen = await get_member_org(session, org_id=org_id, user_id=actor_id)
    ensure_allowed(role=seen.role, is_personal=seen.org.is_personal, action=Action.LIST_MEMBERS)
    await record_activity(session, org=seen.org)
    rows = await session.execute(
        select(Membership.user_id, MemberProfile.email, Membership.role, Membership.created_at)
        .outerjoin(MemberProfile, col(MemberProfile.id) == col(Membership.user_id))
        .where(col(Membership.org_id) == org_id)
        .order_by(col(Membership.created_at), col(Membership.user_id))
    )
    return [Member(user_id=u, email=e, role=r, joined_at=j) for u, e, r, j in rows]


async def _admin_count(session: AsyncSession, *, org_id: uuid.UUID) -> int:
    statement = select(func.count()).where(
        col(Membership.org_id) == org_id, col(Membership.role) == Role.ADMIN
    )
    return int((await session.execute(statement)).scalar_one())


async def _target(session: AsyncSession, *, org_id: uuid.UUID, user_id: str) -> Membership:
    target = await membership_of(session, org_id=org_id, user_id=user_id)
    if target is None:
        raise MemberNotFound(f"{user_id} is not a member of this org")
    return target


async def change_role(
    session: AsyncSession, *, org_id: uuid.UUID, actor_id: str, user_id: str, role: Role
) -> Member:
    """Give a member another role (admins only); never leaves a team org without an admin."""
    seen = await get_member_org(session, org_id=org_id, user_id=actor_id, lock=True)
    ensure_allowed(role=seen.role, is_personal=seen.org.is_personal, action=Action.CHANGE_ROLE)
    target = await _target(session, org_id=org_id, user_id=user_id)
    previous = target.role
    if previous != role:
        if previous == Role.ADMIN and await _admin_count(session, org_id=org_id) <= 1:
            raise LastAdmin("the org would be left without an admin; make someone else admin first")
        target.role = role
        await session.flush()
        await record_event(
            session,
            source=SOURCE,
            subject=str(org_id),
            data=MembershipRoleChanged(
                org_id=str(org_id), user_id=user_id, role=role, previous_role=previous
            ),
        )
    await record_activity(session, org=seen.org)
    user = await session.get(MemberProfile, user_id)
    return Member(user_id=user_id, email=user.email if user else None, role=role, joined_at=target.created_at)


async def remove_member(session: AsyncSession, *, org_id: uuid.UUID, actor_id: str, user_id: str) -> None:
    """Remove a member (admins), or leave (anyone, themself); never the last admin of a team org."""
    seen = await get_member_org(session, org_id=org_id, user_id=actor_id, lock=True)
    if seen.org.is_personal:
        raise PersonalOrgRefused("a personal workspace always keeps its owner")
    leaving = actor_id == user_id
    if not leaving:
        ensure_allowed(role=seen.role, is_personal=False, action=Action.REMOVE_MEMBER)
    target = seen.membership if leaving else await _target(session, org_id=org_id, user_id=user_id)
    await _delete_membership(
        session, org=seen.org, membership=target, reason="left" if leaving else "removed"
    )
    await record_activity(session, org=seen.org)


async def _delete_membership(session: AsyncSession, *, org: Org, membership: Membership, reason: str) -> None:
    """Delete one membership of a team org whose row the caller has locked (last-admin rule)."""
    if membership.role == Role.ADMIN and await _admin_count(session, org_id=org.id) <= 1:
        raise LastAdmin("the last admin cannot leave or be removed; make someone else admin first")
    await session.delete(membership)
    await session.flush()
    await record_event(
        session,
        source=SOURCE,
        subject=str(org.id),
        data=MembershipRemoved(org_id=str(org.id), user_id=membership.user_id, reason=reason),
    )


async def add_member(session: AsyncSession, *, org_id: uuid.UUID, user_id: str, role: Role) -> bool:
    """Add a user to a team org with `role` (an accepted invitation); False if already a member.

    A personal org never gets a second member (PersonalOrgRefused; a trigger guards it too).
    """
    org = await lock_org(session, org_id=org_id)
    if org.is_personal:
        raise PersonalOrgRefused("a personal workspace has exactly one member")
    if await membership_of(session, org_id=org_id, user_id=user_id) is not None:
        return False
    session.add(Membership(org_id=org_id, user_id=user_id, role=role))
    await session.flush()
    await record_event(
        session,
        source=SOURCE,
        subject=str(org_id),
        data=MembershipAdded(org_id=str(org_id), user_id=user_id, role=role, is_personal_org=False),
    )
    await record_activity(session, org=org)
    return True
