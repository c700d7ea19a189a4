"""The five services as child processes (`python -m <package>`), with readiness checks."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devstack.processes import spawn, stop, wait_until


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # service and database name
    package: str  # `python -m <package>`
    env_prefix: str
    port: int


SERVICES = (
    ServiceSpec("identity", "identity", "IDENTITY", 8001),
    ServiceSpec("workspace", "workspace", "WORKSPACE", 8002),
    ServiceSpec("billing", "billing", "BILLING", 8003),
    ServiceSpec("invites", "invites", "INVITES", 8004),
    ServiceSpec("skool-ingest", "skool_ingest", "SKOOL_INGEST", 8005),
)


def database_name(spec: ServiceSpec) -> str:
    return spec.name.replace("-", "_")


@dataclass
class RunningService:
    spec: ServiceSpec
    port: int
    env: dict[str, str]
    log_file: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = spawn([sys.executable, "-m", self.spec.package], log_file=self.log_file, env=self.env)

    def wait_ready(self, timeout: float = 90) -> None:
        def ready() -> bool:
            try:
                return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(
            ready,
            timeout=timeout,
            what=f"service {self.spec.name}",
            process=self.process,
            log_file=self.log_file,
            interval=0.1,
        )

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, timeout=20)
            self.process = None

    @contextmanager
    def down(self) -> Iterator[None]:
        """Crash the service for the block (SIGKILL), then start it again and wait until ready."""
        self.kill()
        try:
            yield
        finally:
            self.start()
            self.wait_ready()

    def kill(self) -> None:
        """Crash it: SIGKILL, no clean shutdown (for failure tests)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@dataclass
class Fleet:
    services: dict[str, RunningService] = field(default_factory=dict)

    @classmethod
    def configure(
        cls, *, shared_env: dict[str, str], log_dir: Path, port_offset: int = 0, only: list[str] | None = None
    ) -> Fleet:
        fleet = cls()
        for spec in SERVICES:
            if only is not None and spec.name not in only:
                continue
            configured = os.environ.get(f"{spec.env_prefix}_PORT")
            port = int(configured) if configured else spec.port + port_offset
            env = {**os.environ, **shared_env, f"{spec.env_prefix}_PORT": str(port)}
            fleet.services[spec.name] = RunningService(
                spec=spec, port=port, env=env, log_file=log_dir / f"{spec.name}.log"
            )
        return fleet

    def start(self) -> None:
        for service in self.services.values():
            service.start()
        for service in self.services.values():
            service.wait_ready()

    def stop(self) -> None:
        for service in self.services.values():
            service.stop()

    def __getitem__(self, name: str) -> RunningService:
        return self.services[name]
