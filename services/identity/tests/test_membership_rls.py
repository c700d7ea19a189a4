"""`membership_views` under forced row-level security (issue 16): a transaction sees and writes
the memberships of the users (or the org) it named — identity.service.scope — and nothing else."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text

from devstack.platform import Platform
from devstack.services import Fleet
from devstack.testing import service_db, sign_up
from identity.service.claims import get_claims
from identity.service.scope import scope_to
from shared.db.session import Database, create_database
from shared.db.tenancy import app_role
from shared.settings import as_asyncpg_url


@pytest.fixture
async def as_identity_role(services: Fleet, platform: Platform) -> AsyncIterator[asyncpg.Connection]:
    """A connection running as the role the (started, migrated) service's sessions use."""
    connection = await asyncpg.connect(service_db(platform, "identity"))
    await connection.execute(f"SET ROLE {app_role('identity')}")
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def database(services: Fleet, platform: Platform) -> AsyncIterator[Database]:
    url = as_asyncpg_url(service_db(platform, "identity"))
    database = create_database(url, pool_size=2, session_role=app_role("identity"))
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def two_users(platform: Platform, services: Fleet) -> tuple[str, str, str]:
    """Users A and B, each a member of their own org, and both of a shared org (seeded as the
    superuser, whom RLS does not bind). Returns (user A, user B, the shared org)."""
    suffix = uuid.uuid4().hex[:12]
    user_a, user_b, shared_org = f"user_rls_a_{suffix}", f"user_rls_b_{suffix}", str(uuid.uuid4())
    rows = [
        (user_a, str(uuid.uuid4()), "admin", True),
        (user_b, str(uuid.uuid4()), "admin", True),
        (user_a, shared_org, "admin", False),
        (user_b, shared_org, "trainee", False),
    ]
    connection = await asyncpg.connect(service_db(platform, "identity"))
    try:
        await connection.executemany(
            "INSERT INTO membership_views (user_id, org_id, role, is_personal_org) VALUES ($1, $2, $3, $4)",
            rows,
        )
    finally:
        await connection.close()
    return user_a, user_b, shared_org


async def test_membership_views_is_under_forced_rls(as_identity_role: asyncpg.Connection) -> None:
    forced = await as_identity_role.fetchval(
        "SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE relname = 'membership_views'"
    )
    assert forced is True


async def test_with_nothing_named_no_membership_is_visible(
    as_identity_role: asyncpg.Connection, two_users: tuple[str, str, str]
) -> None:
    assert await as_identity_role.fetchval("SELECT count(*) FROM membership_views") == 0


async def test_a_transaction_scoped_to_user_a_cannot_read_nor_write_user_b(
    as_identity_role: asyncpg.Connection, two_users: tuple[str, str, str]
) -> None:
    user_a, user_b, _ = two_users
    connection = as_identity_role
    async with connection.transaction():
        await connection.execute("SELECT set_config('app.user_ids', $1, true)", f'["{user_a}"]')
        seen = {row["user_id"] for row in await connection.fetch("SELECT user_id FROM membership_views")}
        asked_for_b = await connection.fetch("SELECT * FROM membership_views WHERE user_id = $1", user_b)
        promoted = await connection.execute(
            "UPDATE membership_views SET role = 'admin' WHERE user_id = $1", user_b
        )
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await connection.execute(
                "INSERT INTO membership_views (user_id, org_id, role, is_personal_org)"
                " VALUES ($1, $2, 'admin', false)",
                user_b,
                str(uuid.uuid4()),
            )
    assert seen == {user_a}
    assert asked_for_b == []
    assert promoted == "UPDATE 0"


async def test_an_org_scope_sees_every_member_of_that_org_only(
    as_identity_role: asyncpg.Connection, two_users: tuple[str, str, str]
) -> None:
    user_a, user_b, shared_org = two_users
    connection = as_identity_role
    async with connection.transaction():
        await connection.execute("SELECT set_config('app.org_id', $1, true)", shared_org)
        rows = await connection.fetch("SELECT user_id, org_id FROM membership_views")
    assert sorted((row["user_id"], row["org_id"]) for row in rows) == [
        (user_a, shared_org),
        (user_b, shared_org),
    ]


async def test_scope_to_names_exactly_the_users_given_even_with_separators_in_an_id(
    database: Database, two_users: tuple[str, str, str]
) -> None:
    user_a, user_b, _ = two_users
    async with database.unit_of_work() as session:
        await scope_to(session, users=[f"{user_a},{user_b}", f'{user_a}","{user_b}'])
        widened = (await session.execute(text("SELECT count(*) FROM membership_views"))).scalar_one()
        await scope_to(session, users=[user_b])
        only_b = (
            (await session.execute(text("SELECT DISTINCT user_id FROM membership_views"))).scalars().all()
        )
    assert widened == 0
    assert only_b == [user_b]


async def test_claims_read_through_the_policy(services: Fleet, database: Database) -> None:
    """The service's own reader names its user first: a signed-up user's claims come back whole."""
    user_id, claims = await sign_up(services)
    async with database.unit_of_work() as session:
        read = await get_claims(session, user_id=user_id)
    assert read.org_id == claims["org_id"] and read.org_role == claims["org_role"]
