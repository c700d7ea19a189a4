"""A real PostgreSQL server (Debian's binaries) with its data in a folder of ours.

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` account.

By default (development, the test platform) every connection from 127.0.0.1 is trusted and the
superuser `backbone` has no password. With `superuser_password` the cluster takes passwords only:
initdb `--auth=scram-sha-256` with the superuser's password from a file, and a pg_hba.conf of one
line, `host all all 127.0.0.1/32 scram-sha-256` (no trust, no peer, no socket: the server listens
on 127.0.0.1 alone and has no Unix socket). Each service's own logins come from `pg_logins`.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import asyncpg

from devstack.child import Child
from devstack.processes import ensure_port_free, spawn, wait_until
from devstack.system import Logger, postgres_bindir

SUPERUSER = "backbone"
# Written beside a cluster's files at initdb: the authentication it was made with.
AUTH_MARKER = "backbone-auth"
# The only way in when the cluster has a superuser password (see the module's docstring).
PASSWORD_ONLY_HBA = (
    "# written by devstack: passwords (SCRAM) from 127.0.0.1 only\nhost all all 127.0.0.1/32 scram-sha-256\n"
)


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
    # None: trust auth, as in development. Set: SCRAM passwords only (module docstring). It is
    # given to initdb, so it must be the same on every start of an existing cluster.
    superuser_password: str | None = None
    child: Child = field(init=False)

    def __post_init__(self) -> None:
        self.child = Child(
            name="postgres",
            log_file=self.log_file,
            spawn=self._spawn,
            is_ready=self._accepts,
            stop_signal=signal.SIGINT,  # PostgreSQL's fast shutdown
            stop_timeout=30,
        )

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self.child.process

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
        """The superuser's URL (with its password when the cluster has one)."""
        password = "" if self.superuser_password is None else ":" + quote(self.superuser_password, safe="")
        return f"postgresql://{SUPERUSER}{password}@127.0.0.1:{self.port}/postgres"

    @property
    def host_port(self) -> str:
        """`127.0.0.1:<port>`, what `pg_logins.service_urls` builds the services' URLs on."""
        return f"127.0.0.1:{self.port}"

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
        """Create the cluster if needed (wiped first when `fresh`), start it, wait until it accepts."""
        ensure_port_free(self.port, what="PostgreSQL", hint="stop what holds it, or set DATABASE_URL")
        bindir = postgres_bindir()
        account = _server_account()
        storage = self.storage_dir
        if self.fresh:
            shutil.rmtree(storage, ignore_errors=True)
        self._prepare_dir(storage, account)
        if not (storage / "PG_VERSION").exists():
            log(f"initialising a PostgreSQL cluster in {storage}")
            self._initdb(bindir, storage, account)
            (storage / AUTH_MARKER).write_text(self._auth + "\n")
        self._check_auth_matches(storage)
        if self.superuser_password is not None:
            self._write_password_only_hba(storage, account)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        process = self.child.start()
        wait_until(
            self._accepts,
            timeout=60,
            what="PostgreSQL",
            process=process,
            log_file=self.log_file,
            interval=0.2,
        )

    @property
    def _auth(self) -> str:
        return "trust" if self.superuser_password is None else "scram-sha-256"

    def _check_auth_matches(self, storage: Path) -> None:
        """A cluster keeps the authentication it was made with (the superuser's password is set
        by initdb): a trust cluster started with a password would lock everyone out, a password
        cluster started without one would never answer. Say so instead. (A cluster from before
        the marker existed was made with trust.)"""
        marker = storage / AUTH_MARKER
        made_with = marker.read_text().strip() if marker.exists() else "trust"
        if made_with != self._auth:
            raise RuntimeError(
                f"the PostgreSQL cluster in {storage} was initialised with {made_with} authentication, "
                f"not {self._auth}: start it as it was made, or from an empty folder (fresh)"
            )

    def _initdb(self, bindir: str, storage: Path, account: str | None) -> None:
        command = [f"{bindir}/initdb", "-D", str(storage), "-U", SUPERUSER, "-E", "UTF8"]
        command += ["--locale=C.UTF-8", "--no-instructions"]
        if self.superuser_password is None:
            subprocess.run(
                [*command, "--auth=trust"],
                check=True,
                stdout=subprocess.DEVNULL,
                preexec_fn=_as(account),
            )
            return
        # The password reaches initdb in a file only the server account can read (never argv),
        # and the file is gone once initdb has read it.
        with tempfile.TemporaryDirectory(prefix="backbone-initdb-") as folder:
            pwfile = Path(folder) / "superuser-password"
            pwfile.write_text(self.superuser_password + "\n")
            pwfile.chmod(0o600)
            if account is not None:
                entry = pwd.getpwnam(account)
                os.chown(folder, entry.pw_uid, entry.pw_gid)
                os.chown(pwfile, entry.pw_uid, entry.pw_gid)
            subprocess.run(
                [*command, "--auth=scram-sha-256", f"--pwfile={pwfile}"],
                check=True,
                stdout=subprocess.DEVNULL,
                preexec_fn=_as(account),
            )

    def _write_password_only_hba(self, storage: Path, account: str | None) -> None:
        """Replace initdb's pg_hba.conf (which also has `local` and replication lines) with the
        one line this server accepts. Written on every start, so a hand edit does not survive."""
        hba = storage / "pg_hba.conf"
        hba.write_text(PASSWORD_ONLY_HBA)
        hba.chmod(0o600)
        if account is not None:
            entry = pwd.getpwnam(account)
            os.chown(hba, entry.pw_uid, entry.pw_gid)

    def _spawn(self) -> subprocess.Popen[bytes]:
        """The postmaster on the existing cluster. After a kill -9 its old backends may hold the
        shared memory for a moment; the new postmaster then exits and the supervisor retries."""
        settings = [
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "unix_socket_directories=",
            "-c",
            "max_connections=400",
            "-c",
            "shared_buffers=128MB",
        ]
        if self.superuser_password is not None:
            settings += ["-c", "password_encryption=scram-sha-256"]
        if not self.durable:
            # Not synchronous_commit=off: a killed server would then lose commits it had already
            # acknowledged. With fsync off a synchronous commit is only a write to the page cache,
            # which survives the process (only an OS crash loses it).
            settings += ["-c", "fsync=off", "-c", "full_page_writes=off"]
        return spawn(
            [f"{postgres_bindir()}/postgres", "-D", str(self.storage_dir), "-p", str(self.port), *settings],
            log_file=self.log_file,
            run_as=_server_account(),
            death_signal=signal.SIGINT,
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
        self.child.stop()


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
