"""Email invitation routes: parse, call the domain, return a schema; the email goes out after the
request's transaction committed (a background task)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, BackgroundTasks, Response

from invites import errors
from invites.api import Settings
from invites.deps import DbSession, InvitesThrottles
from invites.mailer import InvitationEmail, send_invitation
from invites.schemas import InvitationCreate, InvitationList, InvitationRead, Joined
from invites.service.access import ManagedOrg, require_manager, require_may_grant
from invites.service.email_invitations import (
    EmailInvitation,
    IssuedInvitation,
    accept_invitation,
    invite_by_email,
    list_invitations,
    resend_invitation,
    revoke_invitation,
)
from invites.settings import InvitesSettings
from shared.auth import BEARER_ERRORS, CurrentPrincipal
from shared.errors import error_responses
from shared.http.ids import OrgId

router = APIRouter(prefix="/v1")
_MANAGE_ERRORS = (*BEARER_ERRORS, errors.OrgNotFound, errors.PersonalOrg, errors.Forbidden)


def invitation_read(invitation: EmailInvitation) -> InvitationRead:
    return InvitationRead(
        id=invitation.id,
        email=invitation.email,
        role=invitation.role,
        status=invitation.shown_status,
        expires_at=invitation.expires_at,
    )


def _mail(
    tasks: BackgroundTasks, settings: InvitesSettings, org: ManagedOrg, issued: IssuedInvitation
) -> None:
    email = InvitationEmail(
        to=issued.invitation.email, org_name=org.name, role=issued.invitation.role, token=issued.token
    )
    tasks.add_task(send_invitation, settings, email)


@router.post(
    "/orgs/{org_id}/invitations",
    status_code=201,
    response_model=InvitationRead,
    responses=error_responses(
        *_MANAGE_ERRORS,
        errors.RoleNotAllowed,
        errors.AlreadyInvited,
        errors.AlreadyMember,
        errors.SeatLimitReached,
        errors.RateLimited,
    ),
    tags=["email invitations"],
)
async def create_invitation(
    org_id: OrgId,
    body: InvitationCreate,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: Settings,
    throttles: InvitesThrottles,
    tasks: BackgroundTasks,
) -> InvitationRead:
    """Invite an address with a role; an email with the accept URL (`?token=`) goes out. The
    address is one bare addr-spec (a display-name form is 422); the role one the caller may grant
    (403 `role_not_allowed`); emails are limited per org and per address (429 `rate_limited`)."""
    org = await require_manager(session, org_id=org_id, user_id=principal.user_id)
    require_may_grant(org, body.role)
    issued = await invite_by_email(
        session, org_id=org_id, email=body.email, role=body.role, invited_by=principal.user_id
    )
    # After the checks, so a refused invitation spends nothing; a 429 rolls the invitation back.
    throttles.take_mail(org_id=org_id, address=issued.invitation.email)
    _mail(tasks, settings, org, issued)
    return invitation_read(issued.invitation)


@router.get(
    "/orgs/{org_id}/invitations",
    response_model=InvitationList,
    responses=error_responses(*_MANAGE_ERRORS),
    tags=["email invitations"],
)
async def list_email_invitations(
    org_id: OrgId, principal: CurrentPrincipal, session: DbSession
) -> InvitationList:
    """Every email invitation of the org (pending, expired, accepted, revoked)."""
    await require_manager(session, org_id=org_id, user_id=principal.user_id)
    return InvitationList(
        invitations=[invitation_read(i) for i in await list_invitations(session, org_id=org_id)]
    )


@router.delete(
    "/orgs/{org_id}/invitations/{invitation_id}",
    status_code=204,
    responses=error_responses(*_MANAGE_ERRORS, errors.InvitationNotFound, errors.InvitationUsed),
    tags=["email invitations"],
)
async def revoke_email_invitation(
    org_id: OrgId, invitation_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> Response:
    """Revoke a pending invitation (its seat is free again)."""
    await require_manager(session, org_id=org_id, user_id=principal.user_id)
    await revoke_invitation(session, org_id=org_id, invitation_id=invitation_id)
    return Response(status_code=204)


@router.post(
    "/orgs/{org_id}/invitations/{invitation_id}/resend",
    response_model=InvitationRead,
    responses=error_responses(
        *_MANAGE_ERRORS,
        errors.InvitationNotFound,
        errors.InvitationUsed,
        errors.InvitationRevoked,
        errors.SeatLimitReached,
        errors.RateLimited,
    ),
    tags=["email invitations"],
)
async def resend_email_invitation(
    org_id: OrgId,
    invitation_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: Settings,
    throttles: InvitesThrottles,
    tasks: BackgroundTasks,
) -> InvitationRead:
    """Send the invitation again with a new link (the old one stops working) and a new expiry;
    limited per org and per address like a new invitation (429 `rate_limited`)."""
    org = await require_manager(session, org_id=org_id, user_id=principal.user_id)
    issued = await resend_invitation(session, org_id=org_id, invitation_id=invitation_id)
    throttles.take_mail(org_id=org_id, address=issued.invitation.email)
    _mail(tasks, settings, org, issued)
    return invitation_read(issued.invitation)


@router.post(
    "/invitations/{token}/accept",
    response_model=Joined,
    responses=error_responses(
        *BEARER_ERRORS,
        errors.InvitationNotFound,
        errors.EmailMismatch,
        errors.InvitationExpired,
        errors.InvitationRevoked,
        errors.InvitationUsed,
        errors.AlreadyMember,
        errors.SeatLimitReached,
    ),
    tags=["email invitations"],
)
async def accept_email_invitation(token: str, principal: CurrentPrincipal, session: DbSession) -> Joined:
    """The invited address's owner joins with the invitation's role (once)."""
    joined = await accept_invitation(session, token=token, user_id=principal.user_id)
    return Joined(org_id=joined.org_id, role=joined.role)
