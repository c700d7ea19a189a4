"""workspace's part of `devstack trace`: a user's personal org, whose plan events are keyed by
the org and do not name the user."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.http.operator import Findings, ids_of
from workspace.service.scope import user_directory

_PERSONAL_ORG = text("SELECT id FROM orgs WHERE personal_user_id = :q")


async def timeline_findings(session: AsyncSession, q: str) -> Findings:
    """Related to a user id: their personal org (read through the user's directory scope)."""
    async with user_directory(session, q):
        rows = (await session.execute(_PERSONAL_ORG, {"q": q})).all()
    return Findings(related=ids_of(rows))
