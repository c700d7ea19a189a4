"""What one bench run does, from the environment (small counts while developing)."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass

from devstack.platform import Ports

# Long enough for the production profile too (DEVSTACK_PROFILE=production make bench).
SERVICE_KEY = "bench-service-key-of-the-bench-platform"
AUTH_SECRET = "whsec_" + base64.b64encode(b"bench-auth-webhook-secret-0000").decode()
# The secrets the load generator signs and calls with; they win over the caller's environment
# (and, in the production profile, over the generated ones).
BENCH_SECRETS = {"PLATFORM_SERVICE_KEY": SERVICE_KEY, "IDENTITY_AUTH_WEBHOOK_SECRET": AUTH_SECRET}
# In development the services run as `make run` runs them (development settings).
SERVICE_ENV = {"PLATFORM_ENVIRONMENT": "development", **BENCH_SECRETS}


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


def _float(name: str, default: float) -> float:
    return float(os.environ.get(name, str(default)))


def _rates(text: str) -> tuple[int, ...]:
    return tuple(int(rate) for rate in text.split(",") if rate.strip())


@dataclass(frozen=True)
class BenchConfig:
    ports: Ports
    burst: int  # signups in the end-to-end burst
    senders: int  # concurrent senders in the burst
    steady_seconds: float  # how long each steady rate runs
    steady_rates: tuple[int, ...]
    pgbench_seconds: int
    quota_rate: int
    quota_seconds: float
    quota_during_burst: bool  # a second burst with the quota load beside it
    sequential: int  # one-after-another signups for the webhook → Kafka lines
    deadline: float  # the longest any single wait may take
    peer: bool  # race the monolith peer afterwards (devstack.bench.peer)

    @classmethod
    def from_env(cls) -> BenchConfig:
        """BENCH_BURST, BENCH_STEADY_SECONDS, BENCH_STEADY_RATES (e.g. "50,200"; empty skips them),
        BENCH_PGBENCH_SECONDS, BENCH_QUOTA_SECONDS, BENCH_QUOTA_BURST (0: no quotas during a burst),
        BENCH_SEQUENTIAL, BENCH_DEADLINE_SECONDS, BENCH_PEER (0: no peer), DEVSTACK_BENCH_PORT_OFFSET."""
        return cls(
            ports=Ports().shifted(_int("DEVSTACK_BENCH_PORT_OFFSET", 500)),
            burst=_int("BENCH_BURST", 2000),
            senders=_int("BENCH_SENDERS", 32),
            steady_seconds=_float("BENCH_STEADY_SECONDS", 10),
            steady_rates=_rates(os.environ.get("BENCH_STEADY_RATES", "50,200")),
            pgbench_seconds=_int("BENCH_PGBENCH_SECONDS", 10),
            quota_rate=500,
            quota_seconds=_float("BENCH_QUOTA_SECONDS", 5),
            quota_during_burst=os.environ.get("BENCH_QUOTA_BURST", "1") != "0",
            sequential=_int("BENCH_SEQUENTIAL", 20),
            deadline=_float("BENCH_DEADLINE_SECONDS", 90),
            peer=os.environ.get("BENCH_PEER", "1") != "0",
        )
