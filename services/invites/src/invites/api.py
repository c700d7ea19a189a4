"""invites's authenticated routes: parse, call the domain, return a schema. No SQL, no commit here."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from invites import errors
from invites.deps import DbSession, InvitesThrottles, client_key_of, settings_of
from invites.schemas import Joined, LinkCreate, LinkList, LinkRead
from invites.service.access import require_manager, require_may_grant
from invites.service.links import Link, create_link, list_links, revoke_link
from invites.service.redemption import redeem_link
from invites.settings import InvitesSettings
from shared.auth import BEARER_ERRORS, CurrentPrincipal
from shared.errors import error_responses
from shared.http.ids import OrgId

router = APIRouter(prefix="/v1")
Settings = Annotated[InvitesSettings, Depends(settings_of)]
_MANAGE_ERRORS = (*BEARER_ERRORS, errors.OrgNotFound, errors.PersonalOrg, errors.Forbidden)


def link_read(link: Link, settings: InvitesSettings) -> LinkRead:
    return LinkRead(
        slug=link.slug,
        url=f"{settings.public_url.rstrip('/')}/invite/{link.slug}",
        org_id=link.org_id,
        role=link.role,
        max_uses=link.max_uses,
        current_uses=link.current_uses,
        expires_at=link.expires_at,
        created_by=link.created_by,
        created_at=link.created_at,
        revoked_at=link.revoked_at,
    )


@router.post(
    "/orgs/{org_id}/invitation-links",
    status_code=201,
    response_model=LinkRead,
    responses=error_responses(*_MANAGE_ERRORS, errors.RoleNotAllowed, errors.SeatLimitReached),
    tags=["invitation links"],
)
async def create_invitation_link(
    org_id: OrgId, body: LinkCreate, principal: CurrentPrincipal, session: DbSession, settings: Settings
) -> LinkRead:
    """A shareable link that lets up to `max_uses` people join the org with `role` (an admin may
    grant any role, a manager `hr`, `trainee`, `tech` or `client`: else 403 `role_not_allowed`)."""
    org = await require_manager(session, org_id=org_id, user_id=principal.user_id)
    require_may_grant(org, body.role)
    link = await create_link(
        session,
        org_id=org_id,
        role=body.role,
        max_uses=body.max_uses,
        expires_in_days=body.expires_in_days,
        created_by=principal.user_id,
    )
    return link_read(link, settings)


@router.get(
    "/orgs/{org_id}/invitation-links",
    response_model=LinkList,
    responses=error_responses(*_MANAGE_ERRORS),
    tags=["invitation links"],
)
async def list_invitation_links(
    org_id: OrgId,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: Settings,
    include: Annotated[Literal["usable", "all"], Query()] = "usable",
) -> LinkList:
    """The org's usable links (`?include=all` adds revoked, expired and used-up ones)."""
    await require_manager(session, org_id=org_id, user_id=principal.user_id)
    links = await list_links(session, org_id=org_id, include_all=include == "all")
    return LinkList(links=[link_read(link, settings) for link in links])


@router.delete(
    "/orgs/{org_id}/invitation-links/{slug}",
    status_code=204,
    responses=error_responses(*_MANAGE_ERRORS, errors.InvitationNotFound),
    tags=["invitation links"],
)
async def revoke_invitation_link(
    org_id: OrgId, slug: str, principal: CurrentPrincipal, session: DbSession
) -> Response:
    """Revoke a link (kept, marked revoked; its uses so far stand)."""
    await require_manager(session, org_id=org_id, user_id=principal.user_id)
    await revoke_link(session, org_id=org_id, slug=slug)
    return Response(status_code=204)


@router.post(
    "/invitation-links/{slug}/redeem",
    response_model=Joined,
    responses=error_responses(
        *BEARER_ERRORS,
        errors.InvitationNotFound,
        errors.InvitationExpired,
        errors.InvitationRevoked,
        errors.InvitationExhausted,
        errors.AlreadyMember,
        errors.SeatLimitReached,
        errors.RateLimited,
    ),
    tags=["invitation links"],
)
async def redeem_invitation_link(
    slug: str, request: Request, principal: CurrentPrincipal, session: DbSession, throttles: InvitesThrottles
) -> Joined:
    """An existing user joins the link's org with its role (one use; nothing used when refused).
    Refused as `invitation_revoked` when whoever made the link can no longer grant its role.
    Unknown slugs or codes are limited per client and per user (429 `rate_limited`): a legacy
    code cannot be guessed here."""
    with throttles.guesses(client=client_key_of(request), user_id=principal.user_id):
        joined = await redeem_link(session, slug=slug, user_id=principal.user_id)
    return Joined(org_id=joined.org_id, role=joined.role)
