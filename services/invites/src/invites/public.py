"""invites's public routes (no authentication, rate-limited per client): validate a link and
send a visitor on to signup."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from invites import errors
from invites.api import Settings
from invites.deps import DbSession, PublicRateLimit
from invites.schemas import LinkValidity
from invites.service.links import usable_link
from shared.errors import error_responses

router = APIRouter()
_LINK_ERRORS = error_responses(
    errors.InvitationNotFound,
    errors.InvitationExpired,
    errors.InvitationRevoked,
    errors.InvitationExhausted,
    errors.RateLimited,
)


@router.get(
    "/v1/invitation-links/{slug}",
    response_model=LinkValidity,
    dependencies=[PublicRateLimit],
    responses=_LINK_ERRORS,
    tags=["invitation links"],
)
async def validate_invitation_link(slug: str, session: DbSession) -> LinkValidity:
    """Whether a link can be used, and for which org and role. Consumes nothing."""
    link, org_name = await usable_link(session, slug=slug)
    return LinkValidity(org_name=org_name, role=link.role, expires_at=link.expires_at)


_REDIRECT = {
    "description": "a valid link: on to signup",
    "headers": {
        "Location": {
            "description": "INVITES_SIGNUP_URL with `?invitation=<slug>`",
            "schema": {"type": "string"},
        }
    },
}


@router.get(
    "/invite/{slug}",
    status_code=302,
    response_class=RedirectResponse,
    dependencies=[PublicRateLimit],
    responses={302: _REDIRECT, **_LINK_ERRORS},
    tags=["invitation links"],
)
async def follow_invitation_link(slug: str, session: DbSession, settings: Settings) -> RedirectResponse:
    """A valid link (or a migrated legacy code before its cut-over) → 302 to signup with
    `?invitation=<slug>`; an invalid one → its 404/410."""
    link, _ = await usable_link(session, slug=slug)
    separator = "&" if "?" in settings.signup_url else "?"
    target = f"{settings.signup_url}{separator}{urlencode({'invitation': link.slug})}"
    return RedirectResponse(target, status_code=302)
