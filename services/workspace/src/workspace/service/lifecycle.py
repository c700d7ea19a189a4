"""Lifecycle: a deleted user's memberships, archiving idle personal orgs, and their return.

"Activity" and what happens to a team org whose last admin is deleted are decisions written in
docs/workspaces.md; `orgs.record_activity` restores an archived org when a member uses it.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from shared.db.tables import utcnow
from shared.events.schemas.workspace import MembershipRemoved, MembershipRoleChanged, OrgArchived
from shared.outbox import record_event
from workspace.models import Membership, Org, Role
from workspace.service.orgs import SOURCE, find_locked_org
from workspace.service.scope import housekeeping_scan, user_directory
from workspace.service.users import forget_user

INACTIVE = "inactive"
OWNER_DELETED = "owner_deleted"
NO_MEMBERS = "no_members"


async def archive_org(session: AsyncSession, *, org: Org, reason: str) -> None:
    """Archive the org (its tenant set, its row locked); data is kept. Emits `org.archived`."""
    if org.archived_at is not None:
        return
    org.archived_at = utcnow()
    org.archive_reason = reason
    await session.flush()
    await record_event(
        session, source=SOURCE, subject=str(org.id), data=OrgArchived(org_id=str(org.id), reason=reason)
    )


async def remove_deleted_user(session: AsyncSession, *, user_id: str) -> None:
    """`user.deleted`: end every membership of the user; no team org is left without an admin.

    Their personal org is archived (data kept). A team org that loses its last admin gets its
    longest-standing remaining member as admin; one left with no member at all is archived.
    """
    await forget_user(session, user_id=user_id)
    async with user_directory(session, user_id):
        org_ids = list(
            (
                await session.execute(select(Membership.org_id).where(col(Membership.user_id) == user_id))
            ).scalars()
        )
    for org_id in sorted(org_ids):  # one order for every deletion: no deadlock between two
        org = await find_locked_org(session, org_id=org_id)
        membership = await session.get(Membership, (org_id, user_id), populate_existing=True)
        if org is None or membership is None:
            continue
        await session.delete(membership)
        await session.flush()
        await record_event(
            session,
            source=SOURCE,
            subject=str(org_id),
            data=MembershipRemoved(org_id=str(org_id), user_id=user_id, reason="user_deleted"),
        )
        if org.is_personal:
            await archive_org(session, org=org, reason=OWNER_DELETED)
        elif membership.role == Role.ADMIN:
            await _keep_an_admin(session, org=org)


async def _keep_an_admin(session: AsyncSession, *, org: Org) -> None:
    members = list(
        (
            await session.execute(
                select(Membership)
                .where(col(Membership.org_id) == org.id)
                .order_by(col(Membership.created_at), col(Membership.user_id))
            )
        ).scalars()
    )
    if not members:
        await archive_org(session, org=org, reason=NO_MEMBERS)
        return
    if any(member.role == Role.ADMIN for member in members):
        return
    successor = members[0]
    previous, successor.role = successor.role, Role.ADMIN
    await session.flush()
    await record_event(
        session,
        source=SOURCE,
        subject=str(org.id),
        data=MembershipRoleChanged(
            org_id=str(org.id), user_id=successor.user_id, role=Role.ADMIN, previous_role=previous
        ),
    )


async def archive_idle_personal_orgs(
    session: AsyncSession, *, idle_for: timedelta, limit: int = 200
) -> list[uuid.UUID]:
    """Archive up to `limit` personal orgs nobody used for `idle_for`; the ids archived.

    Candidates come from a read-only scan; each is then locked under its own tenant and checked
    again (activity may have arrived meanwhile; another replica may hold it: skipped).
    """
    cutoff = utcnow() - idle_for
    idle = (
        select(Org.id)
        .where(col(Org.is_personal), col(Org.archived_at).is_(None), col(Org.last_active_at) < cutoff)
        .order_by(col(Org.last_active_at))
        .limit(limit)
    )
    async with housekeeping_scan(session):
        candidates = list((await session.execute(idle)).scalars())
    archived = []
    for org_id in candidates:
        org = await find_locked_org(session, org_id=org_id, skip_locked=True)
        if org is None or org.archived_at is not None or org.last_active_at >= cutoff:
            continue
        await archive_org(session, org=org, reason=INACTIVE)
        archived.append(org_id)
    return archived
