"""The five services as child processes (`python -m <package>`), each in one or more replicas.

Every replica of a service listens on the service's port with SO_REUSEPORT (the kernel spreads
connections among them), joins the same consumer group and shares the outbox relay's lock.
Because a request to that port may reach any replica, each replica also serves on a port of
its own: a socket the runner binds once (kernel-chosen port) and hands to every incarnation of
that replica (`SERVICE_OWN_SOCKET_FD`). Readiness is checked there, replica by replica, and the
port stays the same across restarts.

A service named in `DEVSTACK_WORKERS` (default: billing) runs as `api` replicas on its port plus
one `worker` process (`<name>-worker-1`: its consumers and jobs, on its own port only); see
`SERVICE_ROLE` in shared.settings. `DEVSTACK_BACKGROUND_NICE` starts every other service process
(workers, and the services that are not split) at that lower CPU priority, so on a machine the
whole platform shares, the API processes of the split services get the CPU first: the local
stand-in for a reserved CPU for their deployment (docs/performance.md).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devstack.child import Child, stop_together
from devstack.processes import ensure_port_free, spawn, wait_until
from devstack.supervisor import Supervisor


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


def service_port(spec: ServiceSpec, port_offset: int = 0) -> int:
    """The port a service listens on: `<PREFIX>_PORT`, else its default moved by the offset."""
    configured = os.environ.get(f"{spec.env_prefix}_PORT")
    return int(configured) if configured else spec.port + port_offset


def jwks_env(port_offset: int = 0) -> dict[str, str]:
    """Every service verifies tokens against the identity of this platform (an explicit
    PLATFORM_JWKS_URL in the environment wins)."""
    if os.environ.get("PLATFORM_JWKS_URL"):
        return {}
    identity = next(spec for spec in SERVICES if spec.name == "identity")
    return {
        "PLATFORM_JWKS_URL": f"http://127.0.0.1:{service_port(identity, port_offset)}/.well-known/jwks.json"
    }


def database_name(spec: ServiceSpec) -> str:
    return spec.name.replace("-", "_")


def replica_counts(environ: Mapping[str, str] = os.environ) -> dict[str, int]:
    """`DEVSTACK_REPLICAS` for every service, `DEVSTACK_REPLICAS_<PREFIX>` for one (default 1)."""
    default = int(environ.get("DEVSTACK_REPLICAS", "1"))
    counts = {
        spec.name: int(environ.get(f"DEVSTACK_REPLICAS_{spec.env_prefix}", default)) for spec in SERVICES
    }
    for name, count in counts.items():
        if count < 1:
            raise ValueError(f"{name} needs at least one replica, not {count}")
    return counts


def worker_services(environ: Mapping[str, str] = os.environ) -> frozenset[str]:
    """`DEVSTACK_WORKERS`: the services run as API replicas plus a worker process (comma-separated
    names; default billing, so its quota API never waits behind a consumer's batch; empty: none)."""
    names = {name.strip() for name in environ.get("DEVSTACK_WORKERS", "billing").split(",") if name.strip()}
    unknown = names - {spec.name for spec in SERVICES}
    if unknown:
        raise ValueError(f"DEVSTACK_WORKERS names no such service: {', '.join(sorted(unknown))}")
    return frozenset(names)


def background_niceness(environ: Mapping[str, str] = os.environ) -> int:
    """`DEVSTACK_BACKGROUND_NICE`: the niceness every service process but the split services' API
    processes starts with (default 0: all alike)."""
    return int(environ.get("DEVSTACK_BACKGROUND_NICE", "0"))


# The kernel picks each replica's own port; on this loopback address it can never take a port
# that a platform on this machine binds on 127.0.0.1 (Kafka, PostgreSQL, a service) later.
OWN_PORTS_HOST = "127.0.0.2"


def _own_socket() -> socket.socket:
    """Bound, not listening: the replica's server listens on it once its start-up is done."""
    own = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    own.bind((OWN_PORTS_HOST, 0))
    return own


@dataclass(eq=False)
class RunningService:
    """One replica of a service."""

    spec: ServiceSpec
    port: int
    env: dict[str, str]
    log_file: Path
    replica: int = 1
    role: str = "all"  # SERVICE_ROLE: all, api or worker (shared.settings)
    niceness: int = 0  # added to the runner's own when the process starts
    own_socket: socket.socket = field(default_factory=_own_socket)
    child: Child = field(init=False)

    def __post_init__(self) -> None:
        self.child = Child(name=self.name, log_file=self.log_file, spawn=self._spawn, is_ready=self.is_ready)

    @property
    def name(self) -> str:
        kind = "-worker" if self.role == "worker" else ""
        return f"{self.spec.name}{kind}-{self.replica}"

    @property
    def url(self) -> str:
        """The service's shared port: any of its replicas answers."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def own_url(self) -> str:
        """This replica alone."""
        return f"http://{OWN_PORTS_HOST}:{self.own_socket.getsockname()[1]}"

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self.child.process

    def _spawn(self) -> subprocess.Popen[bytes]:
        fd = self.own_socket.fileno()
        env = {
            **self.env,
            "SERVICE_INSTANCE": self.name,
            "SERVICE_OWN_SOCKET_FD": str(fd),
            "SERVICE_ROLE": self.role,
        }
        argv = [sys.executable, "-m", self.spec.package]
        if self.niceness:
            argv = ["nice", "-n", str(self.niceness), *argv]  # nice execs it: the same pid
        return spawn(argv, log_file=self.log_file, env=env, pass_fds=[fd])

    def is_ready(self) -> bool:
        try:
            return httpx.get(f"{self.own_url}/readyz", timeout=3).status_code == 200
        except httpx.HTTPError:
            return False

    def start(self) -> None:
        self.child.start()

    def wait_ready(self, timeout: float = 90) -> None:
        wait_until(
            self.is_ready,
            timeout=timeout,
            what=f"service {self.name}",
            process=self.child.process,
            log_file=self.log_file,
            interval=0.1,
        )

    def stop(self) -> None:
        self.child.stop()

    @contextmanager
    def down(self) -> Iterator[None]:
        """Crash the replica for the block (SIGKILL), then start it again and wait until ready."""
        self.kill()
        try:
            yield
        finally:
            self.start()
            self.wait_ready()

    def kill(self) -> None:
        """Crash it: SIGKILL, no clean shutdown, and nobody restarts it until `start`."""
        self.child.kill()


@dataclass
class Fleet:
    replicas: dict[str, list[RunningService]] = field(default_factory=dict)
    log_dir: Path = Path(".")
    supervisor: Supervisor | None = None

    @classmethod
    def configure(
        cls,
        *,
        shared_env: dict[str, str],
        log_dir: Path,
        port_offset: int = 0,
        only: list[str] | None = None,
        replicas: Mapping[str, int] | None = None,
        supervisor: Supervisor | None = None,
        own_env: Callable[[ServiceSpec], Mapping[str, str]] | None = None,
        withheld: Callable[[ServiceSpec], Collection[str]] | None = None,
        workers: Collection[str] = (),
        background_nice: int = 0,
    ) -> Fleet:
        """Replicas of every service (or `only` these). Each process gets this process's
        environment, `shared_env`, its own `own_env(spec)` (the production profile: its own
        credentials only) and its port; the variables `withheld(spec)` names are removed from
        what it inherits (another service's credentials in the operator's shell). The services
        in `workers` run their replicas as `api` processes plus one `worker` process; every
        process but those `api` ones starts `background_nice` lower in CPU priority."""
        fleet = cls(log_dir=log_dir, supervisor=supervisor)
        shared_env = {**jwks_env(port_offset), **shared_env}
        for spec in SERVICES:
            if only is not None and spec.name not in only:
                continue
            port = service_port(spec, port_offset)
            hidden = set(withheld(spec)) if withheld else set()
            inherited = {name: value for name, value in os.environ.items() if name not in hidden}
            own = own_env(spec) if own_env else {}
            env = {**inherited, **shared_env, **own, f"{spec.env_prefix}_PORT": str(port)}
            split = spec.name in workers
            first = RunningService(
                spec=spec,
                port=port,
                env=env,
                log_file=log_dir / f"{spec.name}-1.log",
                role="api" if split else "all",
                niceness=0 if split else background_nice,
            )
            fleet.replicas[spec.name] = [first]
            fleet._watch(first)
            for _ in range(1, (replicas or {}).get(spec.name, 1)):
                fleet._add(spec.name)
            if split:
                worker = RunningService(
                    spec=spec,
                    port=port,
                    env=env,
                    log_file=log_dir / f"{spec.name}-worker-1.log",
                    role="worker",
                    niceness=background_nice,
                )
                fleet.replicas[spec.name].append(worker)
                fleet._watch(worker)
        return fleet

    def _add(self, name: str) -> RunningService:
        first = self.replicas[name][0]
        serving = [replica for replica in self.replicas[name] if replica.role != "worker"]
        number = max(replica.replica for replica in serving) + 1
        replica = RunningService(
            spec=first.spec,
            port=first.port,
            env=first.env,
            log_file=self.log_dir / f"{name}-{number}.log",
            replica=number,
            role=first.role,
            niceness=first.niceness,
        )
        self.replicas[name].append(replica)
        self._watch(replica)
        return replica

    def _watch(self, replica: RunningService) -> None:
        if self.supervisor is not None:
            self.supervisor.watch(replica.child)

    def all(self) -> list[RunningService]:
        return [replica for group in self.replicas.values() for replica in group]

    def start(self) -> None:
        """Start every replica at once, then wait for each one on its own port."""
        for group in self.replicas.values():
            first = group[0]
            ensure_port_free(first.port, what=first.spec.name, hint=f"set {first.spec.env_prefix}_PORT")
        for replica in self.all():
            replica.start()
        for replica in self.all():
            replica.wait_ready()

    def add_replica(self, name: str) -> RunningService:
        """One more replica of `name` next to the running ones (started, not yet ready)."""
        replica = self._add(name)
        replica.start()
        return replica

    def remove_replica(self, replica: RunningService) -> None:
        """Stop a replica for good (the first one of a service stays)."""
        if replica is self.replicas[replica.spec.name][0]:
            raise ValueError("the first replica of a service is not removed")
        replica.stop()
        if self.supervisor is not None:
            self.supervisor.unwatch(replica.child)
        self.replicas[replica.spec.name].remove(replica)
        replica.own_socket.close()

    def stop(self) -> None:
        stop_together(replica.child for replica in self.all())

    @property
    def services(self) -> dict[str, RunningService]:
        """The first replica of each service (what one-replica callers walk)."""
        return {name: group[0] for name, group in self.replicas.items()}

    def __getitem__(self, name: str) -> RunningService:
        return self.replicas[name][0]
