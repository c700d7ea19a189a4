"""A plain asyncpg pool beside the SQLAlchemy engine, for hot paths that are one database call.

A request through the unit of work pays SQLAlchemy's session and five round trips for one
change (BEGIN, the tenant, the statement, COMMIT …). A path that is a single call of a SQL
function — its own transaction, in autocommit — pays one. Connections run as the service's
session role, so row-level security applies exactly as it does to the engine's sessions.

A connection goes back to the pool without asyncpg's reset query (`SELECT
pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`): that is a second round trip per
call, and at 500 quota consumes/s the profile showed it as a sixth of billing's API process
(docs/performance.md, issue 17 item 3). The pool's callers leave nothing to reset: each is one
statement in autocommit whose settings are transaction-local (`set_config(…, true)`), with no
cursor, listener or advisory lock. asyncpg still rolls back a transaction left open on release.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from shared.settings import as_libpq_url


async def create_plain_pool(url: str, *, session_role: str, max_size: int = 10) -> Any:
    """An asyncpg pool whose connections switch to `session_role` when they open."""

    async def run_as_role(connection: Any) -> None:
        await connection.execute(f'SET ROLE "{session_role}"')

    return await asyncpg.create_pool(
        as_libpq_url(url), min_size=1, max_size=max_size, init=run_as_role, reset=_nothing_to_reset
    )


async def _nothing_to_reset(_: Any) -> None:
    """Calls leave no session state behind (see the module docstring)."""
