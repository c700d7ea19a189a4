"""Figures, their targets and the lines `make bench` prints."""

from __future__ import annotations

import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): a value that was really observed."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Target:
    """`value <op> limit`, op being "≥" or "≤"."""

    op: str
    limit: float

    def met(self, value: float) -> bool:
        return value >= self.limit if self.op == "≥" else value <= self.limit


@dataclass(frozen=True)
class Figure:
    """One printed line: what, how much, against which target, under which conditions."""

    name: str
    value: float | None  # None: not measured
    unit: str
    conditions: str
    target: Target | None = None

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "—"
        if self.target is None:
            return ""
        return "ok" if self.target.met(self.value) else "MISS"

    def line(self) -> str:
        value = "not measured" if self.value is None else f"{_number(self.value)} {self.unit}"
        target = "" if self.target is None else f"{self.target.op} {_number(self.target.limit)} {self.unit}"
        return f"{self.name:<36} {value:>13}  {target:<12} {self.verdict:<4}  {self.conditions}"


def _number(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def ms(seconds: float) -> float:
    return seconds * 1000


def render(figures: list[Figure]) -> str:
    header = f"{'figure':<36} {'value':>13}  {'target':<12} {'':<4}  conditions"
    return "\n".join([header, "-" * len(header), *(figure.line() for figure in figures)])


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def machine(load_at_start: str) -> str:
    """The machine and the moment, for the last line."""
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gib = _meminfo_kib("MemTotal") / 1024 / 1024
    when = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    return (
        f"machine: {os.cpu_count()} CPUs ({cpu}), {memory_gib:.1f} GiB memory, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}; "
        f"load average {load_at_start} at start, {load_average()} at the end; {when}"
    )


def _meminfo_kib(field: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def machine_cpu_ticks() -> tuple[int, int]:
    """(stolen, all) CPU ticks of the whole machine so far, from /proc/stat.

    On a virtual machine, "steal" is time a vCPU wanted to run but the host gave to someone else;
    a phase run with much of it measured a smaller machine than it seems.
    """
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    steal = fields[7] if len(fields) > 7 else 0
    return steal, sum(fields[:8])


def steal_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share of CPU time stolen by the host between two `machine_cpu_ticks` readings."""
    stolen, total = after[0] - before[0], after[1] - before[1]
    return stolen / total if total > 0 else 0.0
