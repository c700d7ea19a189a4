"""What the web app needs to draw itself: the active workspace, navigation, the switcher."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from workspace.errors import OrgNotFound
from workspace.models import Membership, Org, Role
from workspace.schemas import Context, Limits, NavItem, WorkspaceItem, WorkspaceList
from workspace.service.orgs import get_member_org, read_org, record_activity
from workspace.service.plans import plan_of, plans_of
from workspace.service.scope import user_directory

BASE_ITEMS = (
    NavItem(title="Dashboard", url="/dashboard"),
    NavItem(title="Training", url="/training"),
    NavItem(title="Scenarios", url="/scenarios"),
    NavItem(title="Analytics", url="/analytics"),
)
BILLING = NavItem(title="Billing", url="/billing")
SETTINGS = NavItem(title="Settings", url="/settings")


def navigation(*, role: str, is_personal: bool) -> list[NavItem]:
    """seed 000 `getNavItems`: personal users see no team items; in a team, the role decides."""
    if is_personal:
        return [*BASE_ITEMS, BILLING, SETTINGS]
    items = [
        *BASE_ITEMS,
        NavItem(title="Assignments", url="/assignments"),
        NavItem(title="Leaderboard", url="/leaderboard"),
    ]
    if role in (Role.MANAGER, Role.ADMIN):
        items.append(NavItem(title="Team", url="/team"))
    if role == Role.ADMIN:
        items += [NavItem(title="Users", url="/admin/users"), BILLING]
    return [*items, SETTINGS]


@dataclass(frozen=True)
class _Workspace:
    org: Org
    role: str


async def _workspaces_of(session: AsyncSession, *, user_id: str) -> list[_Workspace]:
    """Every org the user is a member of, the one joined first first."""
    statement = (
        select(Org, Membership.role)
        .join(Membership, col(Membership.org_id) == col(Org.id))
        .where(col(Membership.user_id) == user_id)
        .order_by(col(Membership.created_at), col(Org.id))
    )
    async with user_directory(session, user_id):
        rows = (await session.execute(statement)).all()
    return [_Workspace(org=org, role=role) for org, role in rows]


async def list_workspaces(session: AsyncSession, *, user_id: str) -> WorkspaceList:
    """The user's workspaces with their role and plan; the switcher shows only with more than one."""
    found = await _workspaces_of(session, user_id=user_id)
    org_ids = [w.org.id for w in found]
    async with user_directory(session, user_id):
        plans = await plans_of(
            session, org_ids=org_ids, personal={w.org.id: w.org.is_personal for w in found}
        )
    items = [
        WorkspaceItem(
            org_id=w.org.id,
            name=w.org.name,
            slug=w.org.slug,
            is_personal=w.org.is_personal,
            role=Role(w.role),
            plan=plans[w.org.id].plan,
        )
        for w in found
    ]
    return WorkspaceList(workspaces=items, show_switcher=len(items) > 1)


async def user_context(
    session: AsyncSession, *, user_id: str, org_id: uuid.UUID | None, default_org_id: uuid.UUID | None = None
) -> Context:
    """The context of `org_id` for one of its members (OrgNotFound otherwise).

    Without `org_id`: `default_org_id` (the token's org) while the user still belongs to it, else
    their first workspace (a token is minutes stale; a removal must not lock the app out). Using
    it is activity: an archived workspace its member opens comes back (`org.restored`).
    """
    found = await _workspaces_of(session, user_id=user_id)
    target = org_id or _default(found, default_org_id)
    seen = await get_member_org(session, org_id=target, user_id=user_id)
    await record_activity(session, org=seen.org)
    plan = await plan_of(session, org_id=target, is_personal=seen.org.is_personal)
    org = await read_org(session, org=seen.org)
    return Context(
        user_id=user_id,
        org=org,
        role=Role(seen.role),
        is_personal=seen.org.is_personal,
        plan=plan.plan,
        features=plan.features,
        limits=Limits.model_validate(plan.limits),
        navigation=navigation(role=seen.role, is_personal=seen.org.is_personal),
        show_switcher=len(found) > 1,
    )


def _default(found: list[_Workspace], preferred: uuid.UUID | None) -> uuid.UUID:
    if not found:
        raise OrgNotFound("the user has no workspace yet")
    if preferred is not None and any(w.org.id == preferred for w in found):
        return preferred
    return found[0].org.id
