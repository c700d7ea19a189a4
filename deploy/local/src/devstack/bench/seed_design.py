"""The seed design's own figure: seed 000's create_personal_org() signup, driven by pgbench."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from importlib import resources

import asyncpg

from devstack.bench.report import Figure
from devstack.postgres import database_url
from devstack.system import postgres_bindir

DATABASE = "seed_design"
CLIENTS = 4
THREADS = 2


def schema_sql() -> str:
    return resources.files("devstack.bench").joinpath("seed_design.sql").read_text()


def script_path() -> str:
    """The pgbench script: one signup per transaction (it is a file inside the package)."""
    return str(resources.files("devstack.bench").joinpath("seed_signup.sql"))


def pgbench_binary() -> str:
    found = shutil.which("pgbench") or os.path.join(postgres_bindir(), "pgbench")
    if not os.path.exists(found):
        raise RuntimeError("pgbench not found (it comes with Debian's postgresql-client)")
    return found


async def create_seed_database(server_url: str, name: str = DATABASE, *, extra_sql: str = "") -> str:
    """A fresh scratch database `name` holding the seed design's schema (and `extra_sql`, the
    bench's peer adds its claims table); returns its URL."""
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await connection.execute(f"CREATE DATABASE {name}")
    finally:
        await connection.close()
    url = database_url(server_url, name)
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(schema_sql())
        if extra_sql:
            await connection.execute(extra_sql)
    finally:
        await connection.close()
    return url


@dataclass(frozen=True)
class PgbenchResult:
    tps: float
    transactions: int
    latency_ms: float
    failed: int


def parse_pgbench(output: str) -> PgbenchResult:
    """The figures of pgbench's summary (PostgreSQL 13+ wording)."""

    def number(pattern: str, default: str | None = None) -> str:
        match = re.search(pattern, output)
        if match is None:
            if default is None:
                raise ValueError(f"pgbench output lacks {pattern!r}:\n{output}")
            return default
        return match.group(1)

    return PgbenchResult(
        tps=float(number(r"tps = ([0-9.]+)")),
        transactions=int(number(r"number of transactions actually processed: (\d+)")),
        latency_ms=float(number(r"latency average = ([0-9.]+) ms")),
        failed=int(number(r"number of failed transactions: (\d+)", "0")),
    )


def run_pgbench(url: str, *, seconds: int | None = None, transactions: int | None = None) -> PgbenchResult:
    """Run the signup script (for `seconds`, or `transactions` per client) and parse its summary."""
    duration = ["-T", str(seconds)] if seconds is not None else ["-t", str(transactions or 1)]
    completed = subprocess.run(
        [
            pgbench_binary(),
            "-n",
            "-M",
            "prepared",
            "-c",
            str(CLIENTS),
            "-j",
            str(THREADS),
            *duration,
            "-f",
            script_path(),
            url,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"pgbench failed ({completed.returncode}):\n{completed.stdout}{completed.stderr}")
    return parse_pgbench(completed.stdout)


async def rows_written(url: str) -> tuple[int, int]:
    """(users, personal orgs) in the seed database: one each per transaction."""
    connection = await asyncpg.connect(url)
    try:
        users = await connection.fetchval("SELECT count(*) FROM users")
        orgs = await connection.fetchval("SELECT count(*) FROM orgs WHERE is_personal")
    finally:
        await connection.close()
    return int(users), int(orgs)


async def drop_seed_database(server_url: str) -> None:
    """Drop the scratch database (its checkpoint then happens before the services' phases)."""
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
    finally:
        await connection.close()


async def measure_seed_design(server_url: str, *, seconds: int, durable: bool) -> Figure:
    url = await create_seed_database(server_url)
    result = run_pgbench(url, seconds=seconds)
    users, orgs = await rows_written(url)
    await drop_seed_database(server_url)
    fsync = "fsync on" if durable else "fsync off"
    return Figure(
        "seed design signups/s (pgbench)",
        result.tps,
        "/s",
        f"seed 000 create_personal_org() + users insert, 1 transaction each; pgbench -M prepared "
        f"-c {CLIENTS} -j {THREADS} -T {seconds} on the platform's PostgreSQL ({fsync}) before the "
        f"services start; {result.transactions:,} done, {result.failed} failed, latency avg "
        f"{result.latency_ms:.2f} ms; rows: {users:,} users, {orgs:,} personal orgs",
    )
