"""The example product services beside the platform (`DEVSTACK_EXAMPLES=1 make run`).

Today one: `examples/practice-app` (`python -m practice_app`), a FastAPI + FastStream service built
only on the client kit (docs/integrating.md). It runs as a supervised child like the services, on
port 8010 moved by the port offset, with its own database and login on the platform's PostgreSQL
(`practice_app`, owned by the login `practice_app`: no superuser, CONNECT to its database only),
and the platform's addresses (broker, JWKS, identity/workspace/billing).

In the production profile it is a downstream service as a real one would be: its own Kafka
principal `practice-app` (SCRAM-SHA-512 over TLS) with only the ACLs it needs (`example_acls`:
read `billing.subscriptions` in its own group, write `billing.subscriptions.dlq`), a password for
its database login, and of the platform's secrets only `PLATFORM_SERVICE_KEY`. Its passwords are
made fresh at every start (nothing else needs them); the broker's ACLs stay exactly the
platform's (`desired_acls()`) plus the example's.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import asyncpg
import httpx

from devstack.child import Child
from devstack.kafka_acls import Acl, apply_kafka_security, desired_acls, user
from devstack.platform import Platform
from devstack.processes import ensure_port_free, spawn, wait_until
from devstack.production_secrets import ProductionSecrets, random_secret
from devstack.services import SERVICES, jwks_env, service_port
from shared.events.topics import BILLING_SUBSCRIPTIONS, dlq_topic
from shared.settings import DEV_SERVICE_KEY

EXAMPLES_VARIABLE = "DEVSTACK_EXAMPLES"
PRACTICE_APP_PORT = 8010
PRACTICE_APP_DATABASE = "practice_app"
PRACTICE_APP_LOGIN = "practice_app"
# Its Kafka principal and consumer group (practice_app.settings.CONSUMER).
PRACTICE_APP_PRINCIPAL = "practice-app"
PRACTICE_APP_GROUP = "practice-app"


def wants_examples(environ: Mapping[str, str] = os.environ) -> bool:
    """`DEVSTACK_EXAMPLES`: 1 (or true/yes) starts the examples; unset or 0, not."""
    value = environ.get(EXAMPLES_VARIABLE, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ValueError(f"{EXAMPLES_VARIABLE}={value!r}: expected 1 or 0")


def example_acls() -> list[Acl]:
    """What the example's principal may do on the bus, and nothing more."""
    principal = user(PRACTICE_APP_PRINCIPAL)
    dead_letters = dlq_topic(BILLING_SUBSCRIPTIONS)
    return [
        Acl(principal, "TOPIC", BILLING_SUBSCRIPTIONS, "LITERAL", "READ"),
        Acl(principal, "TOPIC", BILLING_SUBSCRIPTIONS, "LITERAL", "DESCRIBE"),
        Acl(principal, "GROUP", PRACTICE_APP_GROUP, "LITERAL", "READ"),
        Acl(principal, "TOPIC", dead_letters, "LITERAL", "WRITE"),
        Acl(principal, "TOPIC", dead_letters, "LITERAL", "DESCRIBE"),
    ]


async def create_example_database(server_url: str, password: str | None = None) -> str:
    """The example's login and database (idempotent); returns its SQLAlchemy URL. Development's
    PostgreSQL trusts 127.0.0.1, so there the login has no password; with `password` (the
    production profile) it gets that one. CONNECT to the database: its login only."""
    login, database = PRACTICE_APP_LOGIN, PRACTICE_APP_DATABASE
    connection = await asyncpg.connect(server_url)
    try:
        if not await connection.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", login):
            await connection.execute(
                f'CREATE ROLE "{login}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION'
            )
        if password is not None:
            literal = await connection.fetchval("SELECT quote_literal($1::text)", password)
            await connection.execute(f'ALTER ROLE "{login}" PASSWORD {literal}')
        if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            await connection.execute(f'CREATE DATABASE "{database}" OWNER "{login}"')
        await connection.execute(f'REVOKE CONNECT ON DATABASE "{database}" FROM PUBLIC')
    finally:
        await connection.close()
    address = server_url.split("@", 1)[1].rsplit("/", 1)[0]
    secret = "" if password is None else ":" + quote(password, safe="")
    return f"postgresql+asyncpg://{login}{secret}@{address}/{database}"


@dataclass(eq=False)
class ExampleApp:
    """One example service as a child of the platform's supervisor."""

    name: str
    package: str
    port: int
    env: dict[str, str]
    log_file: Path
    child: Child = field(init=False)

    def __post_init__(self) -> None:
        self.child = Child(name=self.name, log_file=self.log_file, spawn=self._spawn, is_ready=self.is_ready)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self) -> subprocess.Popen[bytes]:
        return spawn([sys.executable, "-m", self.package], log_file=self.log_file, env=self.env)

    def is_ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=3).status_code == 200
        except httpx.HTTPError:
            return False

    def start(self, timeout: float = 60) -> None:
        ensure_port_free(self.port, what=self.name, hint="set DEVSTACK_PORT_OFFSET")
        self.child.start()
        wait_until(
            self.is_ready,
            timeout=timeout,
            what=self.name,
            process=self.child.process,
            log_file=self.log_file,
        )

    def stop(self) -> None:
        self.child.stop()


def start_practice_app(
    platform: Platform,
    *,
    extra_env: Mapping[str, str] | None = None,
    production: ProductionSecrets | None = None,
) -> ExampleApp:
    """Create the example's database (and in production its principal, ACLs and passwords), start
    it beside `platform`'s services, wait until ready. `extra_env` is what the services were given
    (the test platform's keys); `production`, the production profile's secrets."""
    secured = production is not None
    database_password = random_secret() if secured else None
    database_url = asyncio.run(create_example_database(platform.database_url, database_password))
    offset = platform.ports.service_offset
    urls = {
        f"PLATFORM_{spec.env_prefix}_URL": f"http://127.0.0.1:{service_port(spec, offset)}"
        for spec in SERVICES
        if spec.name in ("identity", "workspace", "billing")
    }
    env = {
        **os.environ,
        "PLATFORM_SERVICE_KEY": os.environ.get("PLATFORM_SERVICE_KEY") or DEV_SERVICE_KEY,
        **jwks_env(offset),
        **(extra_env or {}),
        **urls,
        "KAFKA_BOOTSTRAP_SERVERS": platform.kafka_bootstrap,
        "PRACTICE_APP_DATABASE_URL": database_url,
        "PRACTICE_APP_PORT": str(PRACTICE_APP_PORT + offset),
    }
    if production is not None:
        env = _production_env(platform, production, env)
    app = ExampleApp(
        name="practice-app",
        package="practice_app",
        port=PRACTICE_APP_PORT + offset,
        env=env,
        log_file=platform.root / "logs" / "practice-app.log",
    )
    platform.supervisor.watch(app.child)
    app.start()
    return app


def _production_env(platform: Platform, production: ProductionSecrets, env: dict[str, str]) -> dict[str, str]:
    """The example's own Kafka principal (credential upserted, ACLs added to the platform's) and,
    of the platform's secrets, the service key and Kafka's client settings only."""
    password = random_secret()
    if platform.kafka is None:
        raise RuntimeError("the production profile's broker is not running")
    apply_kafka_security(
        platform.kafka.admin_connection(),
        {PRACTICE_APP_PRINCIPAL: password},
        acls=[*desired_acls(), *example_acls()],
    )
    inherited = {name: value for name, value in env.items() if name not in production.values}
    kafka = {name: value for name, value in production.values.items() if name.startswith("KAFKA_")}
    return {
        **inherited,
        **kafka,
        "PLATFORM_SERVICE_KEY": production.values["PLATFORM_SERVICE_KEY"],
        "PRACTICE_APP_KAFKA_USERNAME": PRACTICE_APP_PRINCIPAL,
        "PRACTICE_APP_KAFKA_PASSWORD": password,
    }
