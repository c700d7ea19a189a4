"""Fixtures for the shared package's tests: a scratch database with the outbox and inbox."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from devstack.platform import Platform
from devstack.postgres import database_url
from shared.db.session import Database, create_database
from shared.db.tables import InboxEntry, OutboxMessage
from shared.settings import as_asyncpg_url


@pytest.fixture
async def scratch_db(platform: Platform) -> AsyncIterator[Database]:
    """A new database holding only the outbox and the inbox."""
    name = f"scratch_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(platform.database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = as_asyncpg_url(database_url(platform.database_url, name))
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        for table in (OutboxMessage.__table__, InboxEntry.__table__):  # type: ignore[attr-defined]
            await connection.run_sync(table.create)
    await engine.dispose()
    database = create_database(url)
    try:
        yield database
    finally:
        await database.dispose()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
