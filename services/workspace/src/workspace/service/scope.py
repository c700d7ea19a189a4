"""Which rows a transaction may see, beyond `shared.db.tenancy.set_tenant` (one org).

Row-level security shows one org's rows (the tenant). Two read-only widenings exist for the few
reads that cannot name the org first (migration 0004): the *directory* of one user (their
memberships, and the orgs and plans of those memberships) and the *housekeeping* scan of orgs.
Both are transaction-local and cleared as soon as the read is done, so the rest of the
transaction is back to one tenant.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

USER_SETTING = "app.user_id"
SCOPE_SETTING = "app.scope"
_SET = text("SELECT set_config(:name, :value, true)")


@asynccontextmanager
async def user_directory(session: AsyncSession, user_id: str) -> AsyncIterator[None]:
    """Within the block, also see `user_id`'s memberships and their orgs and plans (read only)."""
    await session.execute(_SET, {"name": USER_SETTING, "value": user_id})
    try:
        yield
    finally:
        await session.execute(_SET, {"name": USER_SETTING, "value": ""})


@asynccontextmanager
async def housekeeping_scan(session: AsyncSession) -> AsyncIterator[None]:
    """Within the block, see every org (read only): for the archiving job's candidate scan."""
    await session.execute(_SET, {"name": SCOPE_SETTING, "value": "housekeeping"})
    try:
        yield
    finally:
        await session.execute(_SET, {"name": SCOPE_SETTING, "value": ""})
