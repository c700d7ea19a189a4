"""Cross-tenant: under org A a query with no WHERE returns none of org B's rows, for every
tenant table, also on a pool of one connection alternating between tenants."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from devstack.platform import Platform
from devstack.testing import service_db
from shared.db.session import Database
from shared.db.tenancy import app_role, set_tenant
from shared.events.schemas.billing import PlanLimits, SubscriptionChanged
from shared.settings import as_asyncpg_url
from workspace.models import Role
from workspace.service.conversion import convert_personal_org
from workspace.service.members import add_member
from workspace.service.plans import apply_subscription_changes
from workspace.service.scope import user_directory

from .factories import new_slug, new_user, personal_org_of

# Every tenant table and the column naming its org.
TENANT_TABLES = {"orgs": "id", "memberships": "org_id", "org_plans": "org_id", "conversions": "org_id"}
# Tables with an org_id that are not tenant data, and why (each is an explicit, reviewed exception).
NOT_TENANT_DATA = {
    # Per member email and Skool community, read by email before any org exists (the signup);
    # org_id names the org the entitlement pays for once there is one (docs/skool.md).
    "skool_entitlements",
}


@pytest.fixture
async def one_connection(platform: Platform, database: Database) -> AsyncIterator[AsyncEngine]:
    """An engine whose pool holds exactly one connection, running as workspace's role."""
    engine = create_async_engine(
        as_asyncpg_url(service_db(platform, "workspace")), pool_size=1, max_overflow=0
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _as_app_role(dbapi_connection: Any, _: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET ROLE {app_role('workspace')}")
        cursor.close()

    try:
        yield engine
    finally:
        await engine.dispose()


async def org_with_a_row_in_every_table(database: Database) -> tuple[uuid.UUID, str]:
    owner = await new_user(database)
    org_id = await personal_org_of(database, owner)
    async with database.unit_of_work() as session:
        await convert_personal_org(
            session,
            org_id=org_id,
            actor_id=owner,
            name="Team",
            slug=new_slug(),
            plan="starter",
            idempotency_key="k",
        )
    async with database.unit_of_work() as session:
        await add_member(session, org_id=org_id, user_id=await new_user(database), role=Role.TRAINEE)
    change = SubscriptionChanged(
        org_id=str(org_id),
        plan="starter",
        plan_kind="team",
        status="active",
        version=10_000,
        limits=PlanLimits(seats=10, sessions_per_month=100, scenarios=20, ai_generation=True),
        features={"team_management": True},
    )
    async with database.unit_of_work() as session:
        await apply_subscription_changes(session, changes=[change])
    return org_id, owner


async def test_every_table_with_an_org_id_is_a_forced_rls_tenant_table(
    platform: Platform, database: Database
) -> None:
    connection = await asyncpg.connect(service_db(platform, "workspace"))
    try:
        forced = await connection.fetch(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND relrowsecurity AND relforcerowsecurity "
            "AND relnamespace = 'public'::regnamespace"
        )
        with_org_id = await connection.fetch(
            "SELECT table_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND column_name = 'org_id'"
        )
    finally:
        await connection.close()
    assert {row["relname"] for row in forced} == set(TENANT_TABLES)
    assert {row["table_name"] for row in with_org_id} <= set(TENANT_TABLES) | NOT_TENANT_DATA


async def test_one_pooled_connection_alternating_tenants_never_shows_the_other(
    database: Database, one_connection: AsyncEngine
) -> None:
    org_a, _ = await org_with_a_row_in_every_table(database)
    org_b, _ = await org_with_a_row_in_every_table(database)
    backends = set()
    for tenant in [org_a, org_b] * 5:
        async with one_connection.connect() as connection, connection.begin():
            backends.add(await connection.scalar(text("SELECT pg_backend_pid()")))
            await connection.execute(
                text("SELECT set_config('app.org_id', :org, true)"), {"org": str(tenant)}
            )
            for table, column in TENANT_TABLES.items():
                seen = {row[0] for row in await connection.execute(text(f"SELECT {column} FROM {table}"))}
                assert seen == {tenant}, (table, tenant, seen)
        # The next transaction on the same connection starts with no tenant: nothing at all.
        async with one_connection.connect() as connection, connection.begin():
            for table in TENANT_TABLES:
                assert await connection.scalar(text(f"SELECT count(*) FROM {table}")) == 0, table
    assert len(backends) == 1


async def test_a_users_directory_read_is_undone_before_the_rest_of_the_transaction(
    database: Database,
) -> None:
    org_a, _ = await org_with_a_row_in_every_table(database)
    org_b, owner_b = await org_with_a_row_in_every_table(database)
    async with database.unit_of_work() as session:
        await set_tenant(session, org_a)
        async with user_directory(session, owner_b):
            during = set((await session.execute(text("SELECT id FROM orgs"))).scalars())
        after = {
            table: set((await session.execute(text(f"SELECT {column} FROM {table}"))).scalars())
            for table, column in TENANT_TABLES.items()
        }
    assert during == {org_a, org_b}  # read-only widening: B's own workspaces, while the block lasts
    assert after == {table: {org_a} for table in TENANT_TABLES}


async def test_the_directory_never_lets_a_write_reach_another_org(database: Database) -> None:
    org_a, _ = await org_with_a_row_in_every_table(database)
    org_b, owner_b = await org_with_a_row_in_every_table(database)
    async with database.unit_of_work() as session:
        await set_tenant(session, org_a)
        async with user_directory(session, owner_b):
            renamed = await session.execute(
                text("UPDATE orgs SET name = 'hijacked' WHERE id = :b"), {"b": org_b}
            )
            demoted = await session.execute(
                text("UPDATE memberships SET role = 'client' WHERE org_id = :b"), {"b": org_b}
            )
    assert (renamed.rowcount, demoted.rowcount) == (0, 0)  # type: ignore[attr-defined]
