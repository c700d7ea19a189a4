"""Fixtures for workspace's domain tests: sessions on the (started, migrated) workspace database,
running as the service's own role, so row-level security applies as in production."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from devstack.platform import Platform
from devstack.services import Fleet
from devstack.testing import service_db
from shared.db.session import Database, create_database
from shared.db.tenancy import app_role
from shared.settings import as_asyncpg_url


@pytest.fixture
async def database(services: Fleet, platform: Platform) -> AsyncIterator[Database]:
    url = as_asyncpg_url(service_db(platform, "workspace"))
    database = create_database(url, pool_size=4, session_role=app_role("workspace"))
    try:
        yield database
    finally:
        await database.dispose()
