"""A real PostgreSQL server (Debian's binaries) with its data in a folder of ours.

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` account.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import pwd
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from devstack.processes import ensure_port_free, spawn, stop, wait_until
from devstack.system import Logger, postgres_bindir

SUPERUSER = "backbone"


def _server_account() -> str | None:
    return "postgres" if os.geteuid() == 0 else None


def _reachable_by(account: str, path: Path) -> bool:
    """Can `account` traverse every existing ancestor of `path`? (initdb needs to reach it.)"""
    entry = pwd.getpwnam(account)
    for folder in [path, *path.parents]:
        if not folder.exists():
            continue
        status = folder.stat()
        if status.st_uid == entry.pw_uid:
            allowed = status.st_mode & 0o100
        elif status.st_gid == entry.pw_gid:
            allowed = status.st_mode & 0o010
        else:
            allowed = status.st_mode & 0o001
        if not allowed:
            return False
    return True


@dataclass
class PostgresServer:
    port: int
    data_dir: Path
    durable: bool = True  # tests turn fsync off: faster, and their data is thrown away
    fresh: bool = False  # start from an empty cluster (tests)
    process: subprocess.Popen[bytes] | None = None

    @property
    def storage_dir(self) -> Path:
        """Where the cluster really lives: `data_dir`, unless the server account cannot reach it
        (a checkout under a private folder while running as root); then a folder of /var/tmp
        named after it."""
        account = _server_account()
        if account is None or _reachable_by(account, self.data_dir.parent):
            return self.data_dir
        digest = hashlib.sha1(str(self.data_dir.resolve()).encode()).hexdigest()[:16]
        return Path("/var/tmp") / f"backbone-postgres-{digest}"

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    def _prepare_dir(self, storage: Path, account: str | None) -> None:
        storage.mkdir(parents=True, exist_ok=True)
        if account is not None:
            entry = pwd.getpwnam(account)
            os.chown(storage, entry.pw_uid, entry.pw_gid)
            storage.chmod(0o700)

    def start(self, log: Logger) -> None:
        ensure_port_free(self.port, what="PostgreSQL", hint="stop what holds it, or set DATABASE_URL")
        bindir = postgres_bindir()
        account = _server_account()
        storage = self.storage_dir
        if self.fresh:
            shutil.rmtree(storage, ignore_errors=True)
        self._prepare_dir(storage, account)
        if not (storage / "PG_VERSION").exists():
            log(f"initialising a PostgreSQL cluster in {storage}")
            subprocess.run(
                [
                    f"{bindir}/initdb",
                    "-D",
                    str(storage),
                    "-U",
                    SUPERUSER,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "--no-instructions",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                preexec_fn=_as(account),
            )
        settings = [
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "unix_socket_directories=",
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=128MB",
        ]
        if not self.durable:
            settings += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.process = spawn(
            [f"{bindir}/postgres", "-D", str(storage), "-p", str(self.port), *settings],
            log_file=self.log_file,
            run_as=account,
            death_signal=signal.SIGINT,
        )
        wait_until(
            self._accepts,
            timeout=60,
            what="PostgreSQL",
            process=self.process,
            log_file=self.log_file,
            interval=0.2,
        )

    def _accepts(self) -> bool:
        async def probe() -> bool:
            try:
                connection = await asyncpg.connect(self.url, timeout=2)
            except (OSError, asyncpg.PostgresError):
                return False
            await connection.close()
            return True

        return asyncio.run(probe())

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, sig=signal.SIGINT, timeout=30)  # SIGINT: PostgreSQL's fast shutdown
            self.process = None


def _as(account: str | None):  # type: ignore[no-untyped-def]
    def setup() -> None:
        if account is not None:
            entry = pwd.getpwnam(account)
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)

    return setup


def database_url(server_url: str, name: str) -> str:
    """The URL of database `name` on the server `server_url` points at."""
    return server_url.rsplit("/", 1)[0] + "/" + name


async def create_databases(server_url: str, names: list[str]) -> None:
    """Create each database if it does not exist (one per service)."""
    connection = await asyncpg.connect(server_url)
    try:
        for name in names:
            exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
