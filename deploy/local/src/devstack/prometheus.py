"""Prometheus for `make run`: scrapes every service replica's `/metrics` (docs/operations.md).

Debian's `prometheus` package is installed when missing; when that is impossible `make run` says
so and goes on without it. It listens on 127.0.0.1:9090 (+ DEVSTACK_PORT_OFFSET), scrapes each
replica on its own address (`alone at http://127.0.0.2:<port>`, so every process's counters are
read, not whichever replica the shared port hands the scrape to) and loads the recording rules
compose's Prometheus loads: deploy/prometheus/rules.yml.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from devstack.child import Child
from devstack.paths import REPO_ROOT
from devstack.processes import ensure_port_free, port_open, spawn, wait_until
from devstack.services import RunningService
from devstack.system import Logger, ensure_command

RULES = REPO_ROOT / "deploy" / "prometheus" / "rules.yml"
DEFAULT_PORT = 9090


def scrape_config(replicas: Sequence[RunningService], *, rules: Path = RULES) -> dict[str, object]:
    """The configuration: one job per service, one target per replica (its own address)."""
    jobs: dict[str, list[str]] = {}
    for replica in replicas:
        jobs.setdefault(replica.spec.name, []).append(replica.own_url.removeprefix("http://"))
    return {
        "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
        "rule_files": [str(rules)],
        "scrape_configs": [
            {"job_name": name, "metrics_path": "/metrics", "static_configs": [{"targets": targets}]}
            for name, targets in jobs.items()
        ],
    }


class PrometheusServer:
    """Prometheus on 127.0.0.1:`port`, its configuration and data under `folder`."""

    def __init__(self, *, port: int, folder: Path, replicas: Sequence[RunningService]) -> None:
        self.port = port
        self.folder = folder
        self.replicas = replicas
        self.child = Child(
            name="prometheus", log_file=folder / "prometheus.log", spawn=self._spawn, is_ready=self._listens
        )
        self._binary = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self) -> subprocess.Popen[bytes]:
        return spawn(
            [
                self._binary,
                f"--config.file={self.folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            log_file=self.child.log_file,
        )

    def _listens(self) -> bool:
        return port_open(self.port)

    def start(self, log: Logger) -> None:
        self._binary = shutil.which("prometheus") or ensure_command("prometheus", apt_package="prometheus")
        ensure_port_free(self.port, what="Prometheus", hint="stop what holds it or set DEVSTACK_PORT_OFFSET")
        self.folder.mkdir(parents=True, exist_ok=True)
        # JSON is YAML: no YAML writer needed.
        (self.folder / "prometheus.yml").write_text(json.dumps(scrape_config(self.replicas), indent=2))
        process = self.child.start()
        wait_until(
            self._listens, timeout=30, what="Prometheus", process=process, log_file=self.child.log_file
        )

    def stop(self) -> None:
        self.child.stop()


def start_prometheus(
    *, port: int, folder: Path, replicas: Sequence[RunningService], log: Logger
) -> PrometheusServer | None:
    """Start Prometheus for `make run`, or say why not and return None: the platform runs without."""
    server = PrometheusServer(port=port, folder=folder, replicas=replicas)
    try:
        server.start(log)
    except Exception as error:  # no apt, no root, port taken: metrics stay on each /metrics
        log(f"Prometheus not started ({error}); going on without it")
        server.stop()
        return None
    log(f"Prometheus: {server.url} scraping {len(replicas)} replica(s)")
    return server
