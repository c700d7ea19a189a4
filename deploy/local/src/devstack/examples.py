"""The example product services beside the platform (`DEVSTACK_EXAMPLES=1 make run`).

Today one: `examples/practice-app` (`python -m practice_app`), a FastAPI + FastStream service built
only on the client kit (docs/integrating.md). It runs as a supervised child like the services, on
port 8010 moved by the port offset, with its own database and role on the platform's PostgreSQL
(`practice_app`, owned by the login `practice_app`: least privilege, no superuser, its own
database only), and the platform's addresses (broker, JWKS, identity/workspace/billing).

Development profile only: the production profile would need a SCRAM principal and ACLs for the
example's consumer group and a password login; until those exist it refuses, saying so.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from devstack.child import Child
from devstack.platform import Platform
from devstack.processes import ensure_port_free, spawn, wait_until
from devstack.services import SERVICES, jwks_env, service_port
from shared.settings import DEV_SERVICE_KEY

EXAMPLES_VARIABLE = "DEVSTACK_EXAMPLES"
PRACTICE_APP_PORT = 8010
PRACTICE_APP_DATABASE = "practice_app"
PRACTICE_APP_LOGIN = "practice_app"
PRODUCTION_REFUSAL = (
    f"{EXAMPLES_VARIABLE}=1 runs with the development profile only: the production profile has no "
    "Kafka principal, ACLs or database login for the example yet (docs/integrating.md)"
)


def wants_examples(environ: Mapping[str, str] = os.environ) -> bool:
    """`DEVSTACK_EXAMPLES`: 1 (or true/yes) starts the examples; unset or 0, not."""
    value = environ.get(EXAMPLES_VARIABLE, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ValueError(f"{EXAMPLES_VARIABLE}={value!r}: expected 1 or 0")


async def create_example_database(server_url: str) -> str:
    """The example's login and database (idempotent); returns its SQLAlchemy URL. Development's
    PostgreSQL trusts 127.0.0.1, so the login has no password."""
    connection = await asyncpg.connect(server_url)
    try:
        if not await connection.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", PRACTICE_APP_LOGIN):
            await connection.execute(
                f'CREATE ROLE "{PRACTICE_APP_LOGIN}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION'
            )
        if not await connection.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", PRACTICE_APP_DATABASE
        ):
            await connection.execute(
                f'CREATE DATABASE "{PRACTICE_APP_DATABASE}" OWNER "{PRACTICE_APP_LOGIN}"'
            )
    finally:
        await connection.close()
    address = server_url.split("@", 1)[1].rsplit("/", 1)[0]
    return f"postgresql+asyncpg://{PRACTICE_APP_LOGIN}@{address}/{PRACTICE_APP_DATABASE}"


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


def start_practice_app(platform: Platform, *, extra_env: Mapping[str, str] | None = None) -> ExampleApp:
    """Create the example's database, start it beside `platform`'s services, wait until ready.
    `extra_env` is what the services were given (the test platform's keys)."""
    if platform.database_passwords is not None or platform.kafka_security is not None:
        raise RuntimeError(PRODUCTION_REFUSAL)
    database_url = asyncio.run(create_example_database(platform.database_url))
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
