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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The API fuzzing runs after every other test of the session: it leaves rows holding any
    text in any field (a Skool delivery whose community is `_`, a recipient that is not ASCII),
    and a test that checks nothing matches some odd text would find them."""
    fuzzing = [item for item in items if item.path.name == "test_api_fuzzing.py"]
    items[:] = [item for item in items if item.path.name != "test_api_fuzzing.py"] + fuzzing


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
