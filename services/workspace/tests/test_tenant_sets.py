"""Row-level security with a set of tenants: a batch sees and writes the orgs it names, no others."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from devstack.platform import Platform
from devstack.services import Fleet
from devstack.testing import service_db, sign_up


@pytest.fixture
async def as_workspace_role(services: Fleet, platform: Platform) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(service_db(platform, "workspace"))
    await connection.execute("SET ROLE workspace_app")
    try:
        yield connection
    finally:
        await connection.close()


async def test_a_batch_naming_two_orgs_sees_and_writes_those_two_only(
    services: Fleet, as_workspace_role: asyncpg.Connection
) -> None:
    orgs = [str((await sign_up(services))[1]["org_id"]) for _ in range(3)]
    named, other = orgs[:2], orgs[2]
    connection = as_workspace_role
    async with connection.transaction():
        await connection.execute("SELECT set_config('app.org_id', $1, true)", ",".join(named))
        seen = {str(row["id"]) for row in await connection.fetch("SELECT id FROM orgs")}
        members = {str(row["org_id"]) for row in await connection.fetch("SELECT org_id FROM memberships")}
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with connection.transaction():  # a savepoint: the refused insert leaves the rest
                await connection.execute(
                    "INSERT INTO memberships (org_id, user_id, role) VALUES ($1, 'intruder', 'admin')", other
                )
        inserted = await connection.execute(
            "INSERT INTO memberships (org_id, user_id, role) VALUES ($1, 'batch-member', 'trainee')", named[1]
        )
    assert seen == set(named)
    assert members == set(named)
    assert inserted == "INSERT 0 1"
