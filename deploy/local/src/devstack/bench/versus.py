"""The bench's race against its peer (devstack.bench.peer): the same phases, then the ratios.

Run after the platform's own phases, with its services stopped (PostgreSQL stays: the peer uses
the same server, in a database of its own), so the two never share the two cores.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import httpx

from devstack.bench.client import Endpoints
from devstack.bench.config import AUTH_SECRET, SERVICE_KEY
from devstack.bench.peer import COMPLETE_CLAIMS_SQL, create_peer_database
from devstack.bench.report import Figure, Target
from devstack.processes import ensure_port_free, spawn, wait_until

PEER = "peer: "
PEER_PORT = 8009  # moved by the bench's port offset, beside the services' 8001-8005
# (the platform's figure, the same figure of the peer's run, how the ratio reads, its goal)
COMPARED = (
    ("end-to-end signups/s (burst)", "platform ÷ peer, burst signups/s", Target("≥", 1)),
    ("webhook → claims p99 @ 50/s", "platform ÷ peer, claims p99 @ 50/s", Target("≤", 2)),
    ("webhook → claims p99 @ 200/s", "platform ÷ peer, claims p99 @ 200/s", None),
)


@contextmanager
def running_peer(*, server_url: str, port: int, log_file: Path) -> Iterator[Endpoints]:
    """The peer process on `port`, on a fresh database of the same server; its endpoints."""
    database = asyncio.run(create_peer_database(server_url))
    ensure_port_free(port, what="the bench's peer", hint="set DEVSTACK_BENCH_PORT_OFFSET")
    process = spawn(
        [
            sys.executable,
            "-m",
            "devstack.bench.peer",
            f"--port={port}",
            f"--database-url={database}",
            f"--webhook-secret={AUTH_SECRET}",
            f"--service-key={SERVICE_KEY}",
        ],
        log_file=log_file,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: _answers(url), timeout=60, what="the bench's peer", process=process, log_file=log_file
        )
        yield Endpoints(
            identity_url=url,
            billing_url=url,
            identity_db=database,
            kafka="",
            complete_sql=COMPLETE_CLAIMS_SQL,
        )
    finally:
        process.terminate()
        process.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def as_peer(figures: Sequence[Figure]) -> list[Figure]:
    """The peer's figures, named as such and without the platform's targets."""
    return [replace(figure, name=PEER + figure.name, target=None) for figure in figures]


def ratios(figures: Sequence[Figure]) -> list[Figure]:
    """The platform's figure over the peer's, for each compared figure both runs measured."""
    by_name = {figure.name: figure.value for figure in figures}
    found = []
    for name, label, goal in COMPARED:
        ours, theirs = by_name.get(name), by_name.get(PEER + name)
        if ours is None or not theirs:
            continue
        found.append(Figure(label, ours / theirs, "x", f"{ours:,.1f} against the peer's {theirs:,.1f}", goal))
    return found
