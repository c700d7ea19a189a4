"""workspace's routes (API.md, workspace section): parse, call the domain, return a schema.

No SQL and no commit here. Who the caller is comes from the bearer token; what they may do is
decided from workspace's own memberships (a token's role may be minutes stale).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status

from shared.auth import BEARER_ERRORS, BEARER_OR_SERVICE_ERRORS, CurrentPrincipal, PrincipalOrService
from shared.errors import error_responses
from shared.http.ids import OrgId
from workspace.deps import DbSession, WritingPrincipal
from workspace.errors import (
    Forbidden,
    LastAdmin,
    MemberNotFound,
    NotPersonal,
    OrgNotFound,
    PersonalOrgRefused,
    PlanKindMismatch,
    SlugTaken,
    UnknownPlan,
)
from workspace.schemas import (
    Context,
    MemberList,
    MemberRead,
    OrgConvert,
    OrgCreate,
    OrgRead,
    RoleChange,
    WorkspaceList,
)
from workspace.service.context import list_workspaces, user_context
from workspace.service.conversion import convert_personal_org
from workspace.service.members import Member, change_role, list_members, remove_member
from workspace.service.orgs import create_team_org, get_org, read_org, view_org

router = APIRouter(prefix="/v1")


def _as_uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def _member_read(member: Member) -> MemberRead:
    return MemberRead(
        user_id=member.user_id, email=member.email, role=member.role, joined_at=member.joined_at
    )


@router.post(
    "/orgs",
    response_model=OrgRead,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(*BEARER_ERRORS, SlugTaken),
    tags=["orgs"],
)
async def create_org(body: OrgCreate, principal: WritingPrincipal, session: DbSession) -> OrgRead:
    """A team org; its creator is its admin, billing starts it on the team `free` plan."""
    org = await create_team_org(session, name=body.name, slug=body.slug, created_by=principal.user_id)
    return await read_org(session, org=org)


@router.get(
    "/orgs/{org_id}",
    response_model=OrgRead,
    responses=error_responses(*BEARER_OR_SERVICE_ERRORS, OrgNotFound),
    tags=["orgs"],
)
async def read_one_org(org_id: OrgId, principal: PrincipalOrService, session: DbSession) -> OrgRead:
    """One org: its members (bearer token), or trusted backends (X-Service-Key)."""
    if principal is None:
        return await read_org(session, org=await get_org(session, org_id=org_id))
    return await view_org(session, org_id=org_id, user_id=principal.user_id)


@router.get(
    "/orgs/{org_id}/members",
    response_model=MemberList,
    responses=error_responses(*BEARER_ERRORS, OrgNotFound),
    tags=["members"],
)
async def read_members(org_id: OrgId, principal: CurrentPrincipal, session: DbSession) -> MemberList:
    """The org's members, oldest first; any member may list them."""
    members = await list_members(session, org_id=org_id, actor_id=principal.user_id)
    return MemberList(members=[_member_read(member) for member in members])


@router.patch(
    "/orgs/{org_id}/members/{user_id}",
    response_model=MemberRead,
    responses=error_responses(*BEARER_ERRORS, Forbidden, OrgNotFound, MemberNotFound, LastAdmin),
    tags=["members"],
)
async def update_member_role(
    org_id: OrgId, user_id: str, body: RoleChange, principal: WritingPrincipal, session: DbSession
) -> MemberRead:
    """Change a member's role (admins only); 409 `last_admin` if no admin would be left."""
    member = await change_role(
        session, org_id=org_id, actor_id=principal.user_id, user_id=user_id, role=body.role
    )
    return _member_read(member)


@router.delete(
    "/orgs/{org_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(
        *BEARER_ERRORS, Forbidden, PersonalOrgRefused, OrgNotFound, MemberNotFound, LastAdmin
    ),
    tags=["members"],
)
async def delete_member(
    org_id: OrgId, user_id: str, principal: WritingPrincipal, session: DbSession
) -> Response:
    """Remove a member (admins), or leave (a member removing themself); never the last admin."""
    await remove_member(session, org_id=org_id, actor_id=principal.user_id, user_id=user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/orgs/{org_id}/convert",
    response_model=OrgRead,
    responses=error_responses(
        *BEARER_ERRORS, Forbidden, OrgNotFound, NotPersonal, SlugTaken, PlanKindMismatch, UnknownPlan
    ),
    tags=["orgs"],
)
async def convert_org(
    org_id: OrgId,
    body: OrgConvert,
    principal: WritingPrincipal,
    session: DbSession,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> OrgRead:
    """Turn the caller's personal workspace into a team org they administer (same id and data)."""
    return await convert_personal_org(
        session,
        org_id=org_id,
        actor_id=principal.user_id,
        name=body.name,
        slug=body.slug,
        plan=body.plan,
        idempotency_key=idempotency_key,
    )


@router.get(
    "/me/context",
    response_model=Context,
    responses=error_responses(*BEARER_ERRORS, OrgNotFound),
    tags=["me"],
)
async def read_context(
    principal: CurrentPrincipal, session: DbSession, org_id: Annotated[uuid.UUID | None, Query()] = None
) -> Context:
    """The active workspace (default: the token's org), its plan, features, limits and navigation."""
    default = _as_uuid(principal.org_id)
    return await user_context(session, user_id=principal.user_id, org_id=org_id, default_org_id=default)


@router.get(
    "/me/workspaces",
    response_model=WorkspaceList,
    responses=error_responses(*BEARER_ERRORS),
    tags=["me"],
)
async def read_workspaces(principal: CurrentPrincipal, session: DbSession) -> WorkspaceList:
    """Every workspace the caller belongs to; `show_switcher` only with more than one."""
    return await list_workspaces(session, user_id=principal.user_id)
