"""Orgs: reading one as a member, locking one, creating a team org, recording activity."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from shared.db.tables import utcnow
from shared.db.tenancy import set_tenant
from shared.events.schemas.workspace import MembershipAdded, OrgCreated, OrgRestored
from shared.outbox import record_event
from workspace.errors import OrgNotFound, SlugTaken
from workspace.models import Membership, Org, Role
from workspace.schemas import OrgRead, OrgSettings
from workspace.service.naming import check_name, check_slug
from workspace.service.permissions import Action, ensure_allowed
from workspace.service.plans import TEAM_START_PLAN, PlanView, plan_of

SOURCE = "workspace"
TEAM_SETTINGS = {"show_team_features": True, "show_leaderboard": True}
# A member's use of an org is written at most this often (reads would otherwise all write).
ACTIVITY_RESOLUTION = timedelta(minutes=10)


@dataclass(frozen=True)
class MemberOrg:
    """An org seen by one of its members."""

    org: Org
    membership: Membership

    @property
    def role(self) -> str:
        return self.membership.role


async def get_org(session: AsyncSession, *, org_id: uuid.UUID) -> Org:
    """The org with this id, or OrgNotFound."""
    await set_tenant(session, org_id)
    org = await session.get(Org, org_id)
    if org is None:
        raise OrgNotFound(f"no org {org_id}")
    return org


async def find_locked_org(
    session: AsyncSession, *, org_id: uuid.UUID, skip_locked: bool = False
) -> Org | None:
    """The org (tenant set to it), its row locked until the transaction ends; None if unknown (or,
    with `skip_locked`, locked by another transaction)."""
    await set_tenant(session, org_id)
    statement = (
        select(Org)
        .where(col(Org.id) == org_id)
        .with_for_update(skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalars().one_or_none()


async def lock_org(session: AsyncSession, *, org_id: uuid.UUID) -> Org:
    """The org, locked: changes to its members and kind queue up behind each other."""
    org = await find_locked_org(session, org_id=org_id)
    if org is None:
        raise OrgNotFound(f"no org {org_id}")
    return org


async def membership_of(session: AsyncSession, *, org_id: uuid.UUID, user_id: str) -> Membership | None:
    """The user's membership of the org (the tenant must be set), fresh from the database."""
    return await session.get(Membership, (org_id, user_id), populate_existing=True)


async def get_member_org(
    session: AsyncSession, *, org_id: uuid.UUID, user_id: str, lock: bool = False
) -> MemberOrg:
    """The org as its member `user_id` sees it; OrgNotFound if unknown or not a member."""
    org = await (lock_org if lock else get_org)(session, org_id=org_id)
    membership = await membership_of(session, org_id=org_id, user_id=user_id)
    if membership is None:
        raise OrgNotFound(f"no org {org_id}")
    return MemberOrg(org=org, membership=membership)


def org_read(org: Org, plan: PlanView) -> OrgRead:
    return OrgRead(
        id=org.id,
        name=org.name,
        slug=org.slug,
        is_personal=org.is_personal,
        plan=plan.plan,
        status=org.status,
        settings=OrgSettings.model_validate(org.settings),
        created_at=org.created_at,
    )


async def read_org(session: AsyncSession, *, org: Org) -> OrgRead:
    """The API's view of an org (the tenant must be set to it)."""
    return org_read(org, await plan_of(session, org_id=org.id, is_personal=org.is_personal))


async def view_org(session: AsyncSession, *, org_id: uuid.UUID, user_id: str) -> OrgRead:
    """The org as its member sees it (OrgNotFound for anyone else); viewing it is activity."""
    seen = await get_member_org(session, org_id=org_id, user_id=user_id)
    ensure_allowed(role=seen.role, is_personal=seen.org.is_personal, action=Action.VIEW_ORG)
    await record_activity(session, org=seen.org)
    return await read_org(session, org=seen.org)


async def record_activity(session: AsyncSession, *, org: Org) -> None:
    """A member used the org: note it, and bring it back if it was archived (`org.restored`)."""
    now = utcnow()
    if org.archived_at is not None:
        org.archived_at = None
        org.archive_reason = None
        org.last_active_at = now
        await session.flush()
        await record_event(session, source=SOURCE, subject=str(org.id), data=OrgRestored(org_id=str(org.id)))
    elif now - org.last_active_at >= ACTIVITY_RESOLUTION:
        org.last_active_at = now
        await session.flush()


async def create_team_org(session: AsyncSession, *, name: str, slug: str, created_by: str) -> Org:
    """A new team org with its creator as `admin`; billing starts it on the team free plan."""
    name, slug = check_name(name), check_slug(slug)
    return await add_team_org(session, name=name, slug=slug, created_by=created_by)


async def add_team_org(
    session: AsyncSession,
    *,
    name: str,
    slug: str,
    created_by: str,
    org_id: uuid.UUID | None = None,
    initial_plan: str = TEAM_START_PLAN,
    provisioned_for: str | None = None,
) -> Org:
    """Insert a team org with `created_by` as its admin and announce both (`org.created`,
    `membership.added`); the name and slug are taken as given."""
    org = Org(
        id=org_id or uuid.uuid4(),
        name=name,
        slug=slug,
        is_personal=False,
        personal_user_id=None,
        settings=dict(TEAM_SETTINGS),
        created_by=created_by,
    )
    await set_tenant(session, org.id)
    try:
        async with session.begin_nested():
            session.add(org)
            await session.flush()
    except IntegrityError as error:
        raise_if_slug_taken(error, slug)
        raise
    session.add(Membership(org_id=org.id, user_id=created_by, role=Role.ADMIN))
    await session.flush()
    subject = str(org.id)
    await record_event(
        session,
        source=SOURCE,
        subject=subject,
        data=OrgCreated(
            org_id=subject,
            name=name,
            slug=slug,
            is_personal=False,
            kind="team",
            owner_user_id=created_by,
            created_by=created_by,
            initial_plan=initial_plan,
            provisioned_for=provisioned_for,
        ),
    )
    await record_event(
        session,
        source=SOURCE,
        subject=subject,
        data=MembershipAdded(org_id=subject, user_id=created_by, role=Role.ADMIN, is_personal_org=False),
    )
    return org


def raise_if_slug_taken(error: IntegrityError, slug: str) -> None:
    """Turn the unique violation on `orgs.slug` into SlugTaken (another org, maybe of another
    tenant, holds it: row-level security hides it from a SELECT, the unique index does not)."""
    if "orgs_slug_key" in str(error.orig):
        raise SlugTaken(f"the slug {slug!r} is taken") from error
