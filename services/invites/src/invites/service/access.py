"""Who may manage an org's invitations: its admins and managers, in team orgs only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from invites.errors import Forbidden, OrgNotFound, PersonalOrg
from shared.db.tenancy import set_tenant

MANAGING_ROLES = frozenset({"admin", "manager"})

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
