"""A plain asyncpg pool beside the SQLAlchemy engine, for hot paths that are one database call.

A request through the unit of work pays SQLAlchemy's session and five round trips for one
change (BEGIN, the tenant, the statement, COMMIT …). A path that is a single call of a SQL
function — its own transaction, in autocommit — pays one. Connections run as the service's
session role, so row-level security applies exactly as it does to the engine's sessions.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from shared.settings import as_libpq_url


async def create_plain_pool(url: str, *, session_role: str, max_size: int = 10) -> Any:
    """An asyncpg pool whose connections switch to `session_role` when they open."""

    async def run_as_role(connection: Any) -> None:
        await connection.execute(f'SET ROLE "{session_role}"')

    return await asyncpg.create_pool(as_libpq_url(url), min_size=1, max_size=max_size, init=run_as_role)
