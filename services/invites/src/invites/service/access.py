"""Who may manage an org's invitations (its admins and managers, in team orgs only), and which
roles each may grant: an admin any of the six, a manager hr, trainee, tech or client (API.md)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from invites.errors import Forbidden, OrgNotFound, PersonalOrg, RoleNotAllowed
from shared.db.tenancy import set_tenant

ROLES = frozenset({"admin", "manager", "hr", "trainee", "tech", "client"})
# The roles a link or an invitation made by a member of each role may carry.
GRANTABLE: dict[str, frozenset[str]] = {
    "admin": ROLES,
    "manager": frozenset({"hr", "trainee", "tech", "client"}),
}
MANAGING_ROLES = frozenset(GRANTABLE)
# The `created_by` of links migrated from legacy invite codes: no member made them, the operator
# did; they carry their code's role until they expire.
LEGACY_CREATOR = "legacy-invite-codes"
_ROLE_OF = text("SELECT role FROM member_views WHERE org_id = :org_id AND user_id = :user_id")

_ORG_AND_ROLE = text(
    "SELECT o.name, o.kind, o.owner_user_id, m.role FROM org_views o "
    "LEFT JOIN member_views m ON m.org_id = o.org_id AND m.user_id = :user_id WHERE o.org_id = :org_id"
)


@dataclass(frozen=True)
class ManagedOrg:
    org_id: uuid.UUID
    name: str
    role: str


async def require_manager(session: AsyncSession, *, org_id: uuid.UUID, user_id: str) -> ManagedOrg:
    """The org, if `user_id` is one of its admins or managers; scopes the transaction to it.

    Unknown org or not a member → OrgNotFound; a personal org → PersonalOrg (before the role);
    another role → Forbidden.
    """
    await set_tenant(session, org_id)
    row = (await session.execute(_ORG_AND_ROLE, {"org_id": org_id, "user_id": user_id})).first()
    if row is None:
        raise OrgNotFound(f"no org {org_id}")
    if row.kind != "team":
        # Only its owner may learn that it exists (invites keeps no personal memberships).
        if row.owner_user_id != user_id:
            raise OrgNotFound(f"no org {org_id}")
        raise PersonalOrg("invitations exist for team workspaces only")
    if row.role is None:
        raise OrgNotFound(f"no org {org_id}")
    if row.role not in MANAGING_ROLES:
        raise Forbidden("only admins and managers manage invitations")
    return ManagedOrg(org_id=org_id, name=row.name, role=row.role)


def may_grant(granter_role: str | None, role: str) -> bool:
    """Whether a member with `granter_role` (None: not a member) may hand out `role`."""
    return granter_role is not None and role in GRANTABLE.get(granter_role, frozenset())


def require_may_grant(org: ManagedOrg, role: str) -> None:
    """RoleNotAllowed unless the caller's role may grant `role`."""
    if not may_grant(org.role, role):
        allowed = ", ".join(sorted(GRANTABLE.get(org.role, frozenset())))
        raise RoleNotAllowed(f"a {org.role} may grant only these roles: {allowed}")


async def creator_may_still_grant(
    session: AsyncSession, *, org_id: uuid.UUID, created_by: str, role: str
) -> bool:
    """Whether the maker of a link or an invitation still holds a role that may grant `role` in
    the org (invites's projection of workspace's memberships; transaction scoped to the org). A
    demoted or removed maker's links and invitations are then refused as revoked."""
    if created_by == LEGACY_CREATOR:
        return True
    current = (
        await session.execute(_ROLE_OF, {"org_id": org_id, "user_id": created_by})
    ).scalar_one_or_none()
    return may_grant(current, role)
