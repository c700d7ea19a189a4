"""CPU time each kind of platform process spent during a phase, per signup.

Throughput on a shared two-core virtual machine moves with whatever else runs (and with the host's
steal); CPU seconds spent per signup barely do, so this is the figure to compare changes by.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from devstack.bench.memory import platform_processes
from devstack.bench.report import Figure, Target

_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """utime + stime of one process (0 if it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # fields 14 and 15 of stat(5)


# Issue 17's target (DESIGN.md §9): what 400 signups/s on two cores allows, with room to spare.
CPU_TARGET = Target("≤", 4)


def cpu_by_kind() -> dict[str, float]:
    """CPU seconds so far of every platform process, summed by kind ('service:identity', 'kafka' …)."""
    totals: dict[str, float] = defaultdict(float)
    for kind, processes in platform_processes().items():
        for process in processes:
            totals[kind] += _cpu_seconds(process.pid)
    return dict(totals)


def cpu_per_signup_figures(before: dict[str, float], after: dict[str, float], signups: int) -> list[Figure]:
    """One figure for the whole platform, its conditions naming each kind's share (ms per signup)."""
    if signups <= 0:
        return []
    spent = {kind: after.get(kind, 0.0) - before.get(kind, 0.0) for kind in after}
    per_kind = {kind.removeprefix("service:"): seconds * 1000 / signups for kind, seconds in spent.items()}
    shown = ", ".join(f"{kind} {ms:.1f}" for kind, ms in sorted(per_kind.items(), key=lambda kv: -kv[1]))
    total = sum(per_kind.values())
    return [
        Figure(
            "platform CPU per signup (burst)",
            total,
            "ms",
            f"user+system CPU of every platform process during the burst, divided by its {signups:,} "
            f"signups; by process (ms): {shown}; two cores give at most {2000 / total:,.0f} signups/s "
            "at this cost",
            CPU_TARGET,
        )
    ]


def cpu_per_request_figure(
    before: dict[str, float], after: dict[str, float], requests: int, *, what: str
) -> list[Figure]:
    """CPU per request of a phase that sent `requests` of one kind (docs/scaling.md), in ms,
    its conditions naming the processes that spent it; no target."""
    if requests <= 0:
        return []
    spent = {kind.removeprefix("service:"): after.get(kind, 0.0) - before.get(kind, 0.0) for kind in after}
    per_kind = {kind: seconds * 1000 / requests for kind, seconds in spent.items() if seconds > 0}
    shown = ", ".join(f"{kind} {ms:.2f}" for kind, ms in sorted(per_kind.items(), key=lambda kv: -kv[1]))
    return [
        Figure(
            f"platform CPU per {what}",
            sum(per_kind.values()),
            "ms",
            f"user+system CPU of every platform process during the phase ÷ its {requests:,} requests; "
            f"by process (ms): {shown}",
        )
    ]
