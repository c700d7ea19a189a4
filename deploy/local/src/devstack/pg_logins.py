"""One PostgreSQL login per service and purpose, least privilege (issue 16, item 3).

Per service database `<db>`:

- `<db>_owner` owns the database and so every table its migrations create. It runs the
  migrations and nothing else. LOGIN, no superuser, no CREATEDB, no CREATEROLE, no BYPASSRLS.
  It holds `<db>_app` WITH ADMIN OPTION, so the migrations' `GRANT ... TO <db>_app` work
  without CREATEROLE.
- `<db>_app` carries the service's traffic. It owns nothing, so forced row-level security binds
  it; it reads and writes only what the migrations granted it (shared.db.tenancy
  `create_app_role`). It is also the role the service's sessions `SET ROLE` to (to itself here).

`platform_operator` is for the operator tools (`devstack status`, `trace`, the provisioning
checks): member of `pg_read_all_data` (SELECT on every table, USAGE on every schema) and
BYPASSRLS, so it can count rows of every tenant, and no write privilege anywhere.

CONNECT: revoked from PUBLIC on every service database, on `postgres` and on `template1`;
granted on a service database only to that service's two logins and the operator, on
`postgres` only to the operator (tools take a server URL ending in `/postgres`). So a login of
identity cannot even open billing's database.

`provision_logins` is idempotent and is also how passwords rotate: each call creates what is
missing and sets every login's password to the one given.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

import asyncpg

from devstack.services import SERVICES, ServiceSpec, database_name

OPERATOR_LOGIN = "platform_operator"
# Cluster databases nobody but the superuser (and, for `postgres`, the operator) may open.
CLUSTER_DATABASES = ("postgres", "template1")
_LEAST = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"


@dataclass(frozen=True)
class DatabaseLogins:
    """The two logins of one service's database."""

    service: ServiceSpec

    @property
    def database(self) -> str:
        return database_name(self.service)

    @property
    def owner(self) -> str:
        """Owns the database and its tables; runs the migrations."""
        return f"{self.database}_owner"

    @property
    def app(self) -> str:
        """The traffic login: shared.db.tenancy.app_role of the service (same name)."""
        return f"{self.database}_app"

    @classmethod
    def of(cls, service: ServiceSpec) -> DatabaseLogins:
        return cls(service=service)


def all_database_logins() -> list[DatabaseLogins]:
    return [DatabaseLogins.of(spec) for spec in SERVICES]


def login_names() -> list[str]:
    """Every login `provision_logins` needs a password for: each service's owner and app
    login, then the operator."""
    names = []
    for logins in all_database_logins():
        names += [logins.owner, logins.app]
    return [*names, OPERATOR_LOGIN]


def login_url(server_host_port: str, login: str, password: str, database: str) -> str:
    """`postgresql://login:password@host:port/database`, the password percent-encoded."""
    return f"postgresql://{quote(login, safe='')}:{quote(password, safe='')}@{server_host_port}/{database}"


def service_urls(server_host_port: str, service: ServiceSpec, passwords: Mapping[str, str]) -> dict[str, str]:
    """The database settings one service process needs: `<PREFIX>_DATABASE_URL` (traffic, its
    `_app` login) and `<PREFIX>_DATABASE_MIGRATION_URL` (migrations, its `_owner` login)."""
    logins = DatabaseLogins.of(service)
    return {
        f"{service.env_prefix}_DATABASE_URL": login_url(
            server_host_port, logins.app, passwords[logins.app], logins.database
        ),
        f"{service.env_prefix}_DATABASE_MIGRATION_URL": login_url(
            server_host_port, logins.owner, passwords[logins.owner], logins.database
        ),
    }


def operator_url(server_host_port: str, passwords: Mapping[str, str]) -> str:
    """The operator tools' server URL (`devstack status --database-url`): they swap the database."""
    return login_url(server_host_port, OPERATOR_LOGIN, passwords[OPERATOR_LOGIN], "postgres")


def provision_logins(superuser_url: str, passwords: Mapping[str, str]) -> None:
    """Create (or bring up to date) every login, each service's database owned by its owner
    login, and the CONNECT grants above. Needs the superuser; idempotent; rotates passwords."""
    asyncio.run(apply_logins(superuser_url, passwords))


async def apply_logins(superuser_url: str, passwords: Mapping[str, str]) -> None:
    """`provision_logins` for callers that already run an event loop."""
    missing = [name for name in login_names() if not passwords.get(name)]
    if missing:
        raise ValueError(f"no password for the PostgreSQL logins {', '.join(missing)}")
    connection = await asyncpg.connect(superuser_url)
    try:
        for logins in all_database_logins():
            await _login(connection, logins.app, passwords[logins.app], "NOBYPASSRLS")
            await _login(connection, logins.owner, passwords[logins.owner], "NOBYPASSRLS")
            await connection.execute(f'GRANT "{logins.app}" TO "{logins.owner}" WITH ADMIN OPTION')
            await _own_database(connection, logins.database, logins.owner)
        await _login(connection, OPERATOR_LOGIN, passwords[OPERATOR_LOGIN], "BYPASSRLS")
        await connection.execute(f'GRANT pg_read_all_data TO "{OPERATOR_LOGIN}"')
        for logins in all_database_logins():
            await _only_these_connect(connection, logins.database, [logins.owner, logins.app, OPERATOR_LOGIN])
        await _only_these_connect(connection, "postgres", [OPERATOR_LOGIN])
        await _only_these_connect(connection, "template1", [])
    finally:
        await connection.close()


async def _login(connection: asyncpg.Connection, name: str, password: str, rls: str) -> None:
    """Create the login if missing, then (always) its attributes and password. `format` quotes
    both on the server side: no password text is spliced into SQL here."""
    exists = await connection.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", name)
    verb = "ALTER" if exists else "CREATE"
    statement = await connection.fetchval(
        f"SELECT format('{verb} ROLE %I WITH LOGIN {_LEAST} {rls} PASSWORD %L', $1::text, $2::text)",
        name,
        password,
    )
    await connection.execute(statement)


async def _own_database(connection: asyncpg.Connection, database: str, owner: str) -> None:
    exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
    if exists:
        await connection.execute(f'ALTER DATABASE "{database}" OWNER TO "{owner}"')
    else:
        await connection.execute(f'CREATE DATABASE "{database}" OWNER "{owner}"')


async def _only_these_connect(connection: asyncpg.Connection, database: str, logins: list[str]) -> None:
    """No one but `logins` (and the database's owner, and superusers) may connect to it."""
    await connection.execute(f'REVOKE CONNECT, TEMPORARY ON DATABASE "{database}" FROM PUBLIC')
    for login in logins:
        await connection.execute(f'GRANT CONNECT ON DATABASE "{database}" TO "{login}"')
