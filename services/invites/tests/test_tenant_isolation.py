"""Row-level security on invites's tenant tables: its session role sees one org's links only."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx

from devstack.platform import Platform
from devstack.testing import service_db

TENANT_TABLES = [
    "email_invitations",
    "invitation_links",
    "link_redemptions",
    "member_views",
    "org_seats",
    "org_views",
]


async def test_links_of_another_org_are_invisible_even_without_a_where(
    platform: Platform, team_org: Any, invites_client: httpx.AsyncClient
) -> None:
    teams = [await team_org(), await team_org()]
    for team in teams:
        created = await invites_client.post(
            f"/v1/orgs/{team.org_id}/invitation-links", json={"role": "trainee"}, headers=team.admin_headers
        )
        assert created.status_code == 201
    connection = await asyncpg.connect(service_db(platform, "invites"))
    try:
        await connection.execute("SET ROLE invites_app")
        forced = await connection.fetch(
            "SELECT relname FROM pg_class WHERE relrowsecurity AND relforcerowsecurity "
            "AND relname = ANY($1::text[]) ORDER BY relname",
            TENANT_TABLES,
        )
        assert [row["relname"] for row in forced] == TENANT_TABLES
        assert await connection.fetchval("SELECT count(*) FROM invitation_links") == 0
        async with connection.transaction():
            await connection.execute("SELECT set_config('app.org_id', $1, true)", teams[0].org_id)
            orgs = await connection.fetch("SELECT DISTINCT org_id::text FROM invitation_links")
            assert [row["org_id"] for row in orgs] == [teams[0].org_id]
    finally:
        await connection.close()
