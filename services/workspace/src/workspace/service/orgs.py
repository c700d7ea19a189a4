"""Reading orgs."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.tenancy import set_tenant
from workspace.errors import OrgNotFound
from workspace.models import Org


async def get_org(session: AsyncSession, *, org_id: uuid.UUID) -> Org:
    """The org with this id, or OrgNotFound."""
    await set_tenant(session, org_id)
    org = await session.get(Org, org_id)
    if org is None:
        raise OrgNotFound(f"no org {org_id}")
    return org
