"""One PostgreSQL login per service, least privilege (issue 16, item 3), on a real server that
takes passwords only: `PostgresServer(superuser_password=...)` provisioned by `pg_logins`.

The server is this module's own (its port: 55432 + 700 + DEVSTACK_TEST_PORT_OFFSET, its folder
`.local/pg-logins-test`), not the test platform's trust-auth one.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.exc import DBAPIError

import billing
import identity
import invites
import skool_ingest
import workspace
from devstack.kafka_tls import ensure_tls
from devstack.paths import local_dir
from devstack.pg_logins import (
    OPERATOR_LOGIN,
    DatabaseLogins,
    login_names,
    login_url,
    operator_url,
    provision_logins,
    service_urls,
)
from devstack.postgres import SUPERUSER, PostgresServer, database_url
from devstack.provisioning import provisioning_of
from devstack.services import SERVICES, ServiceSpec
from shared.db.migrations import ensure_database, upgrade_to_head
from shared.settings import as_asyncpg_url
from skool_ingest.signature import HEADER, sign

OFFSET = int(os.environ.get("DEVSTACK_TEST_PORT_OFFSET", "0"))
PORT = 55432 + 700 + OFFSET
HOST_PORT = f"127.0.0.1:{PORT}"
SERVICE_HTTP_PORT = 18905 + OFFSET  # skool-ingest run as a process below
PACKAGES = {"identity": identity, "workspace": workspace, "billing": billing, "invites": invites}
PACKAGES["skool-ingest"] = skool_ingest
# Characters a URL or an SQL literal would trip on: every password must survive them.
AWKWARD = "q'u@o:t/e%d "


def spec(name: str) -> ServiceSpec:
    return next(spec for spec in SERVICES if spec.name == name)


def migrations_of(name: str) -> Path:
    return Path(PACKAGES[name].__file__).parent / "migrations"  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def passwords() -> dict[str, str]:
    return {name: secrets.token_urlsafe(18) + AWKWARD for name in login_names()}


@pytest.fixture(scope="module")
def server(passwords: dict[str, str]) -> Iterator[PostgresServer]:
    started = PostgresServer(
        port=PORT,
        data_dir=local_dir() / "pg-logins-test" / "data",
        durable=False,
        fresh=True,
        superuser_password=secrets.token_urlsafe(18) + AWKWARD,
    )
    started.start(lambda message: print(f"[pg-logins] {message}", flush=True))
    try:
        provision_logins(started.url, passwords)
        provision_logins(started.url, passwords)  # idempotent: a second run changes nothing
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def migrated(server: PostgresServer, passwords: dict[str, str]) -> PostgresServer:
    """Every service's migrations applied to head by its owner login (never the superuser)."""
    for service in SERVICES:
        owner_url = service_urls(HOST_PORT, service, passwords)[
            f"{service.env_prefix}_DATABASE_MIGRATION_URL"
        ]
        upgrade_to_head(url=as_asyncpg_url(owner_url), script_location=migrations_of(service.name))
    return server


def login(passwords: dict[str, str], name: str, database: str) -> str:
    return login_url(HOST_PORT, name, passwords[name], database)


async def refused(url: str) -> BaseException:
    """The error a connection attempt to `url` ends with (it must end with one)."""
    try:
        connection = await asyncpg.connect(url, timeout=10)
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        refusal: BaseException = error
        return refusal
    await connection.close()
    raise AssertionError(f"connected: {url.split('@')[-1]} as {url.split('//')[1].split(':')[0]}")


async def query(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(url)
    try:
        rows: list[asyncpg.Record] = await connection.fetch(sql, *args)
        return rows
    finally:
        await connection.close()


async def test_no_trust_and_no_login_without_its_password(server: PostgresServer) -> None:
    without_password = f"postgresql://{SUPERUSER}@{HOST_PORT}/postgres"
    wrong_password = f"postgresql://{SUPERUSER}:not-the-password@{HOST_PORT}/postgres"
    error = await refused(without_password)
    assert "password" in str(error).lower()
    assert isinstance(await refused(wrong_password), asyncpg.InvalidPasswordError)
    rules = await query(
        server.url, "SELECT type, database, user_name, address, auth_method FROM pg_hba_file_rules"
    )
    assert [tuple(rule) for rule in rules] == [("host", ["all"], ["all"], "127.0.0.1", "scram-sha-256")]
    encryption = await query(
        server.url, "SELECT rolname FROM pg_authid WHERE rolpassword NOT LIKE 'SCRAM-SHA-256$%'"
    )
    assert encryption == [], "every login's password is stored as a SCRAM verifier"


def test_a_password_cluster_is_not_started_without_its_password(server: PostgresServer) -> None:
    """Nor the reverse: the authentication a cluster was made with is the one it starts with."""
    again = PostgresServer(port=PORT + 1, data_dir=server.data_dir, durable=False)
    with pytest.raises(RuntimeError, match="initialised with scram-sha-256 authentication, not trust"):
        again.start(lambda message: None)


async def test_a_service_login_opens_its_own_database_only(
    server: PostgresServer, passwords: dict[str, str]
) -> None:
    identity_logins = DatabaseLogins.of(spec("identity"))
    for name in (identity_logins.owner, identity_logins.app):
        assert await query(login(passwords, name, "identity"), "SELECT 1 AS one") == [(1,)]
        for other in ("billing", "workspace", "postgres", "template1"):
            error = await refused(login(passwords, name, other))
            assert isinstance(error, asyncpg.InsufficientPrivilegeError), (name, other, error)
            assert f'permission denied for database "{other}"' in str(error)


async def test_each_database_is_owned_by_its_owner_login_and_public_may_not_connect(
    server: PostgresServer,
) -> None:
    rows = await query(
        server.url,
        "SELECT datname, pg_get_userbyid(datdba) AS owner,"
        " has_database_privilege('public', datname, 'CONNECT') AS public_connects"
        " FROM pg_database WHERE datname = ANY($1) ORDER BY datname",
        [DatabaseLogins.of(service).database for service in SERVICES],
    )
    assert {row["datname"]: (row["owner"], row["public_connects"]) for row in rows} == {
        DatabaseLogins.of(service).database: (DatabaseLogins.of(service).owner, False) for service in SERVICES
    }


async def test_the_logins_have_no_superpowers(server: PostgresServer) -> None:
    rows = await query(
        server.url,
        "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin"
        " FROM pg_roles WHERE rolname = ANY($1)",
        login_names(),
    )
    found = {row["rolname"]: tuple(row)[1:] for row in rows}
    operator_bypasses_rls = {OPERATOR_LOGIN: (False, False, False, False, True, True)}
    expected = {
        name: (False, False, False, False, False, True) for name in login_names()
    } | operator_bypasses_rls
    assert found == expected


async def test_the_owner_login_migrates_every_service_to_head(
    migrated: PostgresServer, passwords: dict[str, str]
) -> None:
    for service in SERVICES:
        logins = DatabaseLogins.of(service)
        owners = await query(
            login(passwords, logins.owner, logins.database),
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'",
        )
        assert [row["tableowner"] for row in owners] == [logins.owner], service.name
        version = await query(
            login(passwords, logins.owner, logins.database),
            f"SELECT version_num FROM {logins.database}_alembic_version",
        )
        assert len(version) == 1, service.name
    # Running them again (every start of a replica does) is a no-op, not an error.
    again = service_urls(HOST_PORT, spec("billing"), passwords)["BILLING_DATABASE_MIGRATION_URL"]
    await asyncio.to_thread(
        upgrade_to_head, url=as_asyncpg_url(again), script_location=migrations_of("billing")
    )


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE sneaky (id int)",
        "ALTER TABLE subscriptions ADD COLUMN sneaky int",
        "ALTER TABLE subscriptions DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE subscriptions NO FORCE ROW LEVEL SECURITY",
        "DROP POLICY tenant_isolation ON subscriptions",
        "DROP TABLE outbox",
        "CREATE ROLE sneaky LOGIN",
        "CREATE DATABASE sneaky",
        "GRANT billing_owner TO billing_app",
    ],
)
async def test_the_app_login_cannot_change_the_schema_nor_roles(
    migrated: PostgresServer, passwords: dict[str, str], statement: str
) -> None:
    connection = await asyncpg.connect(login(passwords, "billing_app", "billing"))
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute(statement)
    finally:
        await connection.close()


async def test_the_app_login_cannot_bypass_row_level_security(
    migrated: PostgresServer, passwords: dict[str, str]
) -> None:
    tables = await query(
        login(passwords, "billing_app", "billing"),
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user",
    )
    assert tables == [], "the traffic login owns no table"
    await query(
        database_url(migrated.url, "billing"),
        "INSERT INTO subscriptions (org_id, plan, status, version, is_personal)"
        " VALUES ('00000000-0000-0000-0000-00000000000a', 'free', 'active', 1, true)",
    )
    connection = await asyncpg.connect(login(passwords, "billing_app", "billing"))
    try:
        assert await connection.fetchval("SELECT count(*) FROM subscriptions") == 0
        await connection.execute("SET row_security = off")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await connection.fetchval("SELECT count(*) FROM subscriptions")
    finally:
        await connection.close()


async def test_the_operator_reads_every_database_and_writes_none(
    migrated: PostgresServer, passwords: dict[str, str]
) -> None:
    await query(
        database_url(migrated.url, "identity"),
        "INSERT INTO membership_views (user_id, org_id, role, is_personal_org)"
        " VALUES ('user_op', $1, 'admin', true)",
        "00000000-0000-0000-0000-0000000000aa",
    )
    server_url = operator_url(HOST_PORT, passwords)
    assert await query(server_url, "SELECT 1 AS one") == [(1,)]
    # Under forced RLS with no scope named, yet the operator counts every tenant's rows.
    assert await query(database_url(server_url, "identity"), "SELECT count(*) FROM membership_views") == [
        (1,)
    ]
    # The chaos and replica runs' exactly-once check reads identity, workspace and billing with it.
    counted = await provisioning_of(server_url, ["user_op"])
    assert counted["user_op"].users == 0
    for service in SERVICES:
        url = database_url(server_url, DatabaseLogins.of(service).database)
        assert await query(url, "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == [(0,)]
        connection = await asyncpg.connect(url)
        try:
            for statement in (
                "DELETE FROM inbox",
                "UPDATE outbox SET sent_at = now()",
                "CREATE TABLE sneaky (id int)",
            ):
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await connection.execute(statement)
        finally:
            await connection.close()


async def test_provisioning_again_rotates_a_password(
    server: PostgresServer, passwords: dict[str, str]
) -> None:
    rotated = {**passwords, "invites_app": secrets.token_urlsafe(24)}
    await asyncio.to_thread(provision_logins, server.url, rotated)
    try:
        assert isinstance(
            await refused(login(passwords, "invites_app", "invites")), asyncpg.InvalidPasswordError
        )
        assert await query(login(rotated, "invites_app", "invites"), "SELECT 1 AS one") == [(1,)]
    finally:
        await asyncio.to_thread(provision_logins, server.url, passwords)


def test_provisioning_refuses_a_missing_password(server: PostgresServer, passwords: dict[str, str]) -> None:
    incomplete = {name: value for name, value in passwords.items() if name != "workspace_owner"}
    with pytest.raises(ValueError, match="no password for the PostgreSQL logins workspace_owner"):
        provision_logins(server.url, incomplete)


async def test_ensure_database_is_a_no_op_for_a_login_refused_the_postgres_database(
    server: PostgresServer, passwords: dict[str, str]
) -> None:
    """A provisioned login cannot open `postgres`: the existence check is skipped, not fatal."""
    await ensure_database(as_asyncpg_url(login(passwords, "workspace_owner", "workspace")))
    wrong = login_url(HOST_PORT, "workspace_owner", "not-its-password", "workspace")
    with pytest.raises(DBAPIError, match="password authentication failed"):
        await ensure_database(as_asyncpg_url(wrong))


PRODUCTION_SECRETS = {
    "PLATFORM_SERVICE_KEY": secrets.token_urlsafe(32),
    "PLATFORM_TOKEN_MINT_KEY": secrets.token_urlsafe(32),
    "PLATFORM_OPERATOR_KEY": secrets.token_urlsafe(32),
    "SKOOL_INGEST_WEBHOOK_SECRET": secrets.token_urlsafe(32),
    "IDENTITY_AUTH_WEBHOOK_SECRET": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
    "IDENTITY_SIGNING_KEY_PASSPHRASE": secrets.token_urlsafe(32),
}
SERVICE_VARIABLES = ("PLATFORM_", "DATABASE_", "IDENTITY_", "WORKSPACE_", "BILLING_", "INVITES_", "SKOOL_")


def production_env(service: ServiceSpec, passwords: dict[str, str]) -> dict[str, str]:
    """A production process of `service`: strong secrets, its own two database logins, and a
    DATABASE_URL of no use (the service URLs win; no superuser's URL is handed to it). Its Kafka
    settings are production's (SASL_SSL, its own principal, a CA of its own), but no broker
    listens there: these tests are about the database."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(SERVICE_VARIABLES)}
    tls = ensure_tls(local_dir() / "pg-logins-test" / "tls")
    return env | {
        **PRODUCTION_SECRETS,
        **service_urls(HOST_PORT, service, passwords),
        "PLATFORM_ENVIRONMENT": "production",
        "DATABASE_URL": f"postgresql://nobody:unused@{HOST_PORT}/postgres",
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{SERVICE_HTTP_PORT + 1}",  # no broker listens there
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SSL_CAFILE": str(tls.ca_cert),
        f"{service.env_prefix}_KAFKA_USERNAME": service.name,
        f"{service.env_prefix}_KAFKA_PASSWORD": secrets.token_urlsafe(32),
    }


def test_identity_key_tool_runs_as_the_traffic_login(
    migrated: PostgresServer, passwords: dict[str, str]
) -> None:
    env = production_env(spec("identity"), passwords)
    rotated = subprocess.run(
        [sys.executable, "-m", "identity.keys", "rotate", "--delay", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rotated.returncode == 0, rotated.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "identity.keys", "list"], env=env, capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    assert rotated.stdout.split("new key: ")[1].split()[0] in listed.stdout


def test_legacy_code_import_migrates_as_the_owner_and_imports_as_the_app_login(
    server: PostgresServer, passwords: dict[str, str], tmp_path: Path
) -> None:
    empty = tmp_path / "invite_codes.csv"
    empty.write_text("code,org_id,role,max_uses,current_uses,expires_at\n")
    imported = subprocess.run(
        [sys.executable, "-m", "invites.legacy_codes", "--csv", str(empty)],
        env=production_env(spec("invites"), passwords),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert imported.returncode == 0, imported.stderr
    owners = asyncio.run(
        query(
            database_url(server.url, "invites"),
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'",
        )
    )
    assert [row["tableowner"] for row in owners] == ["invites_owner"]


def test_a_service_process_migrates_as_its_owner_and_serves_as_its_app_login(
    server: PostgresServer, passwords: dict[str, str], tmp_path: Path
) -> None:
    """`python -m skool_ingest` in production: migrations as skool_ingest_owner, every connection
    it keeps open as skool_ingest_app; no broker here, so it is ready on its database only."""
    # An empty database (as a first deployment has): the process migrates it itself.
    asyncio.run(query(server.url, "DROP DATABASE IF EXISTS skool_ingest WITH (FORCE)"))
    provision_logins(server.url, passwords)
    env = production_env(spec("skool-ingest"), passwords) | {"SKOOL_INGEST_PORT": str(SERVICE_HTTP_PORT)}
    log_path = tmp_path / "skool-ingest.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([sys.executable, "-m", "skool_ingest"], env=env, stdout=log, stderr=log)
    try:
        checks = wait_for_database_check(process, log_path)
        assert checks["database"] is True
        # A signed delivery is stored (and its event put in the outbox) through the app login.
        email = f"member-{secrets.token_hex(5)}@example.com"
        raw = json.dumps(
            {
                "event": "member.subscribed",
                "email": email,
                "first_name": "Kim",
                "community_id": "dojo",
                "community_name": "Dojo",
                "occurred_at": "2026-11-30T12:00:00Z",
            }
        ).encode()
        signature = sign(
            secret=PRODUCTION_SECRETS["SKOOL_INGEST_WEBHOOK_SECRET"], timestamp=int(time.time()), body=raw
        )
        answer = httpx.post(
            f"http://127.0.0.1:{SERVICE_HTTP_PORT}/v1/webhooks/skool",
            content=raw,
            headers={HEADER: signature},
            timeout=10,
        )
        assert answer.status_code == 202, answer.text
        stored = asyncio.run(
            query(
                database_url(server.url, "skool_ingest"),
                "SELECT (SELECT count(*) FROM skool_deliveries WHERE email = $1),"
                " (SELECT count(*) FROM outbox)",
                email,
            )
        )
        assert stored == [(1, 1)]
        users = asyncio.run(
            query(
                server.url,
                "SELECT DISTINCT usename FROM pg_stat_activity"
                " WHERE datname = 'skool_ingest' AND pid <> pg_backend_pid()",
            )
        )
        assert [row["usename"] for row in users] == ["skool_ingest_app"]
        owners = asyncio.run(
            query(
                database_url(server.url, "skool_ingest"),
                "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'",
            )
        )
        assert [row["tableowner"] for row in owners] == ["skool_ingest_owner"]
        tables = asyncio.run(
            query(
                database_url(server.url, "skool_ingest"), "SELECT count(*) FROM skool_ingest_alembic_version"
            )
        )
        assert tables == [(1,)]
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_for_database_check(process: subprocess.Popen[bytes], log_path: Path) -> dict[str, bool]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"skool-ingest exited {process.returncode}:\n{log_path.read_text()}")
        try:
            answer = httpx.get(f"http://127.0.0.1:{SERVICE_HTTP_PORT}/readyz", timeout=2)
        except httpx.HTTPError:
            answer = None
        if answer is not None and answer.json()["checks"]["database"]:
            checks: dict[str, bool] = answer.json()["checks"]
            return checks
        time.sleep(0.2)
    raise AssertionError(f"skool-ingest's database never answered:\n{log_path.read_text()}")
