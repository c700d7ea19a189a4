"""Memory of the bench's own platform: every process it started, found under this process in /proc."""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from devstack.bench.report import Figure, Target
from devstack.services import SERVICES

SERVICE_PACKAGES = {spec.package: spec.name for spec in SERVICES}


@dataclass(frozen=True)
class ProcessMemory:
    pid: int
    parent: int
    cmdline: list[str]
    rss_kib: int
    pss_kib: int | None  # None when smaps_rollup cannot be read


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children[parent].append(int(entry.name))
    return children


def descendants(root: int) -> list[int]:
    tree = _children_by_parent()
    found: list[int] = []
    stack = list(tree.get(root, []))
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(tree.get(pid, []))
    return sorted(found)


def _kib(text: str, field: str) -> int | None:
    for line in text.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return None


def read_process(pid: int) -> ProcessMemory | None:
    """Its command line, VmRSS and Pss (None if it has gone meanwhile)."""
    base = Path(f"/proc/{pid}")
    try:
        cmdline = (base / "cmdline").read_bytes().decode(errors="replace").split("\0")
        status = (base / "status").read_text()
    except OSError:
        return None
    try:
        pss = _kib((base / "smaps_rollup").read_text(), "Pss")
    except OSError:
        pss = None
    parent = _kib(status, "PPid") or 0
    return ProcessMemory(pid, parent, [a for a in cmdline if a], _kib(status, "VmRSS") or 0, pss)


def kind_of(process: ProcessMemory, postgres_pids: set[int]) -> str:
    """'service:<name>', 'kafka', 'postgres' or 'other'."""
    args = process.cmdline
    for index, arg in enumerate(args[:-1]):
        if arg == "-m" and args[index + 1] in SERVICE_PACKAGES:
            return f"service:{SERVICE_PACKAGES[args[index + 1]]}"
    if "kafka.Kafka" in args:
        return "kafka"
    if process.pid in postgres_pids:
        return "postgres"
    return "other"


def platform_processes(root: int | None = None) -> dict[str, list[ProcessMemory]]:
    """The processes under `root` (default: this one), grouped by kind."""
    processes = [p for pid in descendants(root or os.getpid()) if (p := read_process(pid))]
    postmasters = {p.pid for p in processes if p.cmdline and os.path.basename(p.cmdline[0]) == "postgres"}
    postgres_pids = postmasters | {p.pid for p in processes if p.parent in postmasters}
    groups: dict[str, list[ProcessMemory]] = defaultdict(list)
    for process in processes:
        groups[kind_of(process, postgres_pids)].append(process)
    return groups


def mib(kib: float) -> float:
    return kib / 1024


def memory_figures(groups: dict[str, list[ProcessMemory]]) -> list[Figure]:
    figures = []
    services = [p for kind in sorted(groups) if kind.startswith("service:") for p in groups[kind]]
    for kind in sorted(k for k in groups if k.startswith("service:")):
        for process in groups[kind]:
            figures.append(Figure(f"RSS {kind[8:]}", mib(process.rss_kib), "MiB", f"pid {process.pid}"))
    services_kib = sum(p.rss_kib for p in services)
    kafka_kib = sum(p.rss_kib for p in groups.get("kafka", []))
    postgres = groups.get("postgres", [])
    postgres_rss = sum(p.rss_kib for p in postgres)
    postgres_pss = sum(p.pss_kib if p.pss_kib is not None else p.rss_kib for p in postgres)
    total = services_kib + kafka_kib + postgres_pss
    figures += [
        Figure("RSS services", mib(services_kib), "MiB", f"{len(services)} service processes"),
        Figure("RSS Kafka", mib(kafka_kib), "MiB", "the KRaft broker's JVM (-Xmx512m)", Target("≤", 800)),
        Figure(
            "memory PostgreSQL (PSS)",
            mib(postgres_pss),
            "MiB",
            f"postmaster + {len(postgres) - 1} backends/workers; Pss, as shared_buffers would count once "
            f"per backend in RSS (their RSS sum: {mib(postgres_rss):,.0f} MiB)",
        ),
        Figure(
            "memory whole platform",
            mib(total),
            "MiB",
            "target 2.5 GiB; services RSS + Kafka RSS + PostgreSQL PSS, after the load phases",
            Target("≤", 2560),
        ),
    ]
    return figures
