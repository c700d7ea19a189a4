"""Engine and sessions. A request or a message gets one session and commits in one place."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

# Set in `session.info` by whatever writes an outbox row, so the commit can wake the relay.
OUTBOX_WRITTEN = "outbox_written"


@dataclass(frozen=True)
class Database:
    """A service's engine and its session factory."""

    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    # Called after a unit of work that wrote outbox rows has committed (the relay's wake-up).
    outbox_listeners: list[Callable[[], None]] = field(default_factory=list)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """One transaction: commits when the block ends cleanly, rolls back if it raises."""
        async with self.sessions() as session:
            async with session.begin():
                yield session
            if session.info.pop(OUTBOX_WRITTEN, False):
                for listener in self.outbox_listeners:
                    listener()

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def create_database(url: str, *, pool_size: int = 15, session_role: str | None = None) -> Database:
    """An engine and session factory; with `session_role`, every connection runs as that role
    (so row-level security applies even when the URL's user owns the tables)."""
    # No pre-ping: it costs a round trip per transaction. A connection the server dropped fails its
    # statement once (a 503, or a consumer retry) and SQLAlchemy then refreshes the whole pool.
    # A request waits at most 10 s for a connection, then gets a 503 (the sender retries later)
    # instead of queueing behind an overload for SQLAlchemy's default 30 s.
    # Connections are kept, not churned: an overflow connection is closed when returned, and a
    # new one costs a connect, SET ROLE, asyncpg's type introspection and fresh prepared
    # statements — under load that churn starved the event loop (profile in docs/performance.md).
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=5, pool_timeout=10)
    if session_role is not None:
        _run_as(engine, session_role)
    sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
    return Database(url=url, engine=engine, sessions=sessions)


def _run_as(engine: AsyncEngine, role: str) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _set_role(dbapi_connection: Any, _: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f'SET ROLE "{role}"')
        cursor.close()
