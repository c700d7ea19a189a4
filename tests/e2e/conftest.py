"""Fixtures shared by the end-to-end tests."""

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
async def workspace_db(services: Fleet, platform: Platform) -> AsyncIterator[Database]:
    """workspace's database as its own role: adds members as an accepted invitation does."""
    database = create_database(
        as_asyncpg_url(service_db(platform, "workspace")), pool_size=2, session_role=app_role("workspace")
    )
    try:
        yield database
    finally:
        await database.dispose()
