"""The asyncpg connection under a session's transaction, for the statements every unit of work
runs (the inbox claim, the outbox insert, the tenant setting).

Why: at a steady rate every consumer batch is one or two events, so its fixed statements are most
of its cost, and for them SQLAlchemy's per-statement path (compile cache lookup, bind processing
of every array element, the greenlet bridge, result proxies) cost more than the statement itself:
py-spy of billing at 50 signups/s put a fifth of its samples in the inbox claim alone
(docs/performance.md, issue 17). asyncpg encodes `uuid[]`/`text[]` in Cython, once.

The statements run on the same connection and inside the same transaction as the session's own:
`driver_connection` first makes SQLAlchemy's asyncpg adapter begin its transaction if it has not
yet (it begins lazily, on its first statement), so a statement sent here can never run in
autocommit and survive a rollback. That uses two attributes of SQLAlchemy's adapter
(`_transaction`, `_start_transaction`, SQLAlchemy pinned in constraints.txt); a test
(shared/tests/test_driver.py) fails if a rolled-back unit of work keeps anything written here.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession


async def driver_connection(session: AsyncSession) -> asyncpg.Connection:
    """The session's asyncpg connection, its transaction begun, and whatever the session holds
    pending flushed first — as SQLAlchemy's autoflush would before any statement of its own, so
    objects added under one tenant setting are written under it, not under the next one."""
    if session.new or session.dirty or session.deleted:
        await session.flush()
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    adapter: Any = raw.dbapi_connection
    if adapter._transaction is None:
        async with adapter._execute_mutex:
            if adapter._transaction is None:
                await adapter._start_transaction()
    driver: asyncpg.Connection = raw.driver_connection
    return driver
