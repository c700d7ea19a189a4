"""Who may act on an org's billing: a trusted backend, or a member (from billing's own projection
of memberships, so a role change or a removal counts at once, not when a token expires)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from billing.errors import Forbidden, OrgNotFound
from billing.service.members import member_role
from shared.auth import Principal

ADMIN = "admin"


async def require_member(session: AsyncSession, *, org_id: str, principal: Principal | None) -> str | None:
    """The caller's role in the org (None for a trusted backend); 404 if they are not a member."""
    if principal is None:
        return None
    role = await member_role(session, org_id=org_id, user_id=principal.user_id)
    if role is None:
        raise OrgNotFound(f"org {org_id} not found")
    return role


def require_admin_of_team(*, role: str | None, is_personal: bool) -> None:
    """Team orgs' billing is for their admins; a personal org's only member is its owner."""
    if role is not None and not is_personal and role != ADMIN:
        raise Forbidden("only an admin of this team may manage its billing")
