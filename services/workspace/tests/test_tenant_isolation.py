"""Row-level security: a session of workspace's role sees and changes one org only."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from devstack.platform import Platform
from devstack.pytest_plugin import TEST_SERVICE_KEY
from devstack.services import Fleet
from devstack.testing import service_db, sign_up


async def signed_up_org(fleet: Fleet) -> tuple[str, str]:
    user_id, claims = await sign_up(fleet)
    return user_id, str(claims["org_id"])


@pytest.fixture
async def as_workspace_role(services: Fleet, platform: Platform) -> AsyncIterator[asyncpg.Connection]:
    """A connection running as the session role the (started, migrated) service uses."""
    connection = await asyncpg.connect(service_db(platform, "workspace"))
    await connection.execute("SET ROLE workspace_app")
    try:
        yield connection
    finally:
        await connection.close()


async def test_the_session_role_cannot_bypass_rls(as_workspace_role: asyncpg.Connection) -> None:
    role = await as_workspace_role.fetchrow(
        "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
    )
    assert (role["rolsuper"], role["rolbypassrls"]) == (False, False)
    forced = await as_workspace_role.fetch(
        "SELECT relname FROM pg_class WHERE relrowsecurity AND relforcerowsecurity "
        "AND relname IN ('orgs', 'memberships') ORDER BY relname"
    )
    assert [row["relname"] for row in forced] == ["memberships", "orgs"]


async def test_without_a_tenant_nothing_is_visible(
    services: Fleet, as_workspace_role: asyncpg.Connection
) -> None:
    await signed_up_org(services)
    assert await as_workspace_role.fetchval("SELECT count(*) FROM orgs") == 0
    assert await as_workspace_role.fetchval("SELECT count(*) FROM memberships") == 0


async def test_a_query_that_forgets_its_where_still_sees_one_org(
    services: Fleet, as_workspace_role: asyncpg.Connection
) -> None:
    _, org_a = await signed_up_org(services)
    user_b, org_b = await signed_up_org(services)
    connection = as_workspace_role
    async with connection.transaction():
        await connection.execute("SELECT set_config('app.org_id', $1, true)", org_a)
        orgs = await connection.fetch("SELECT id FROM orgs")
        memberships = await connection.fetch("SELECT org_id FROM memberships")
        promoted = await connection.execute("UPDATE memberships SET role = 'admin'")
        assert await connection.fetchval("SELECT count(*) FROM memberships WHERE user_id = $1", user_b) == 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError):  # WITH CHECK: no writing into B
            await connection.execute(
                "INSERT INTO memberships (org_id, user_id, role) VALUES ($1, 'intruder', 'admin')",
                org_b,
            )
    assert [str(row["id"]) for row in orgs] == [org_a]
    assert {str(row["org_id"]) for row in memberships} == {org_a}
    assert promoted == "UPDATE 1"


async def test_the_org_api_reads_the_org_it_names(services: Fleet) -> None:
    _, org_id = await signed_up_org(services)
    async with httpx.AsyncClient(base_url=services["workspace"].url) as client:
        found = await client.get(f"/v1/orgs/{org_id}", headers={"X-Service-Key": TEST_SERVICE_KEY})
        missing = await client.get(
            "/v1/orgs/00000000-0000-0000-0000-000000000000", headers={"X-Service-Key": TEST_SERVICE_KEY}
        )
        malformed = await client.get("/v1/orgs/not-a-uuid", headers={"X-Service-Key": TEST_SERVICE_KEY})
    assert found.status_code == 200 and found.json()["id"] == org_id
    assert found.json()["is_personal"] is True
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "org_not_found"
    assert malformed.status_code == 404 and malformed.json()["error"]["code"] == "org_not_found"


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
        touched = await connection.execute("UPDATE memberships SET role = role")
    assert seen == set(named)
    assert members == set(named)
    assert touched == "UPDATE 2"  # one member in each named (personal) org, none elsewhere
