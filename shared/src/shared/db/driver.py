"""The statements every unit of work runs (the inbox claim, the outbox insert, the tenant
setting), sent as the driver's own SQL: `exec_driver_sql`, `$n` parameters, no compilation.

Why: at a steady rate every consumer batch is one or two events, so its fixed statements are most
of its cost, and for them SQLAlchemy's compiled path (compile cache lookup, a bind processor run
on every element of every array, result processing) cost more than the statement itself: py-spy
of billing at 50 signups/s put a fifth of its samples in the inbox claim alone, most of it
binding a `uuid[]` element by element (docs/performance.md, issue 17). Sent this way, asyncpg
encodes the arrays in Cython, once.

It stays on SQLAlchemy's connection on purpose: the statement is part of the session's
transaction (begun as any statement begins it), and a failure goes through SQLAlchemy's error
handling — a dropped connection is invalidated and the error wrapped, so the consumer sees an
infrastructure error and redelivers. (Sending it on the bare asyncpg connection did neither: under
`kill -9` of PostgreSQL, `InterfaceError('connection is closed')` was retried on the same dead
pooled connection and dead-lettered — the chaos test caught it.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


async def driver_sql(session: AsyncSession, sql: str, *args: Any) -> Sequence[Any]:
    """Run `sql` (asyncpg's `$1, $2 …` placeholders) with `args` in the session's transaction;
    the rows it returns (none for a statement that returns nothing). Pending objects are flushed
    first, as autoflush would before a statement of SQLAlchemy's own, so objects added under one
    tenant setting are written under it, not under the next one."""
    if session.new or session.dirty or session.deleted:
        await session.flush()
    connection = await session.connection()
    result = await connection.exec_driver_sql(sql, args)
    return result.fetchall() if result.returns_rows else []
