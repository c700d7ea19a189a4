"""invites's part of `devstack trace`: an invitation-link slug's link and org (the events name
the invitation by id, not by slug)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.tenancy import set_tenant
from shared.http.operator import Findings

_FIND_ORG = text("SELECT org_id FROM invitation_directory WHERE key = :q")
_LINK = text("SELECT id FROM invitation_links WHERE slug = :q")


async def timeline_findings(session: AsyncSession, q: str) -> Findings:
    """Related to a slug: its invitation id and org id (the directory names the org first, then
    the transaction is scoped to it, as for a public route)."""
    org_id = (await session.execute(_FIND_ORG, {"q": q})).scalar_one_or_none()
    if org_id is None:
        return Findings()
    await set_tenant(session, org_id)
    link_ids = [str(link_id) for link_id in (await session.execute(_LINK, {"q": q})).scalars()]
    return Findings(related=[str(org_id), *link_ids])
