"""`make bench`: start a platform of its own, load it like real clients would, print the figures.

Phases, in order: the seed design's signups/s (pgbench, before the services start); one signup
at a time (webhook answer, webhook → Kafka); steady 50/s and 200/s (webhook → claims latency);
an end-to-end burst (signups/s and webhook ingest/s); quota consume; the memory of every process;
then, with the platform's services stopped, the same steady and burst phases against the monolith
peer (devstack.bench.peer) and the platform ÷ peer ratios. Each wait has a deadline; a failed
phase is reported and the others still run. Smaller runs for development: BENCH_BURST,
BENCH_STEADY_SECONDS, BENCH_PGBENCH_SECONDS, BENCH_QUOTA_SECONDS, BENCH_SEQUENTIAL,
BENCH_DEADLINE_SECONDS, BENCH_PEER=0 (no peer); the ports move with DEVSTACK_BENCH_PORT_OFFSET
(default 500). DEVSTACK_PROFILE=production runs it on the production profile.
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

from devstack.bench.burst import run_burst
from devstack.bench.client import ClaimsPoller, Endpoints, http_session, post_signup, presign
from devstack.bench.config import BENCH_SECRETS, SERVICE_ENV, BenchConfig
from devstack.bench.cpu import cpu_by_kind, cpu_per_request_figure, cpu_per_signup_figures
from devstack.bench.kafka_latency import run_webhook_to_kafka
from devstack.bench.memory import memory_figures, platform_processes
from devstack.bench.quota import run_quota
from devstack.bench.quota_burst import run_quota_during_burst
from devstack.bench.report import Figure, load_average, machine, machine_cpu_ticks, render, steal_share
from devstack.bench.seed_design import measure_seed_design
from devstack.bench.steady import run_steady
from devstack.bench.versus import PEER_PORT, as_peer, ratios, running_peer
from devstack.kafka_cluster import broker_count
from devstack.paths import local_dir
from devstack.platform import Platform
from devstack.postgres import database_url
from devstack.profiles import production_platform, profile_of
from devstack.services import Fleet, background_niceness, replica_counts, worker_services

BENCH_RUN = "bench-run"


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass
class BenchRun:
    """What the run measured so far, and how much CPU the bench itself spent in each phase."""

    figures: list[Figure] = field(default_factory=list)
    client_cpu: list[str] = field(default_factory=list)

    async def phase(self, name: str, work: Awaitable[list[Figure]]) -> None:
        """Run one phase; its figures are printed at once and kept; a failure becomes a figure too."""
        say(f"{name} …")
        cpu, wall, ticks = _cpu_seconds(), time.perf_counter(), machine_cpu_ticks()
        try:
            measured = await work
        except Exception as error:
            measured = [Figure(name, None, "", f"!!! FAILED: {type(error).__name__}: {error}")]
        cpu, wall = _cpu_seconds() - cpu, time.perf_counter() - wall
        stolen = steal_share(ticks, machine_cpu_ticks())
        self.client_cpu.append(f"{name} {cpu:.1f} s of {wall:.1f} s (host steal {stolen:.0%})")
        for figure in measured:
            say(figure.line())
        self.figures.extend(measured)

    def report(self) -> str:
        return "\n".join(
            [
                render(self.figures),
                f"bench client CPU (load generator, in-process), and the share of the machine's CPU "
                f"the virtual machine's host took away during each phase: {'; '.join(self.client_cpu)}",
            ]
        )


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def warm_up(target: Endpoints, deadline: float) -> list[Figure]:
    """One signup through the whole pipeline: consumer groups joined, pools filled."""
    [signup] = presign(1)
    async with http_session(1) as session:
        await post_signup(session, target, signup)
        if not signup.accepted:
            raise RuntimeError(f"warm-up webhook answered {signup.status}")
        poller = ClaimsPoller(session, target, per_second=20)
        give_up = time.perf_counter() + deadline
        while not await poller.complete(signup.user_id):
            if time.perf_counter() > give_up:
                raise TimeoutError(f"warm-up signup not complete after {deadline:.0f}s")
            await asyncio.sleep(0.05)
    return []


async def load_phases(run: BenchRun, config: BenchConfig, target: Endpoints) -> None:
    seed_tps = next((f.value for f in run.figures if f.name.startswith("seed design")), None)
    await run.phase("warm-up signup", warm_up(target, config.deadline))
    await run.phase(
        "one signup at a time",
        run_webhook_to_kafka(target, count=config.sequential, deadline=config.deadline),
    )
    for rate in config.steady_rates:
        await run.phase(
            f"steady {rate}/s",
            run_steady(target, rate=rate, seconds=config.steady_seconds, deadline=config.deadline),
        )
    await run.phase(f"burst of {config.burst:,}", _burst_with_cpu(config, target, seed_tps))
    if config.quota_during_burst:
        during = run_quota_during_burst(
            target,
            rate=config.quota_rate,
            size=config.burst,
            senders=config.senders,
            deadline=config.deadline,
        )
        await run.phase(f"quota consume during a burst of {config.burst:,}", during)
    await run.phase("quota consume", _quota_with_cpu(config, target))


async def _burst_with_cpu(config: BenchConfig, target: Endpoints, seed_tps: float | None) -> list[Figure]:
    """The burst's figures and the platform's CPU per signup while it ran."""
    before = cpu_by_kind()
    figures = await run_burst(
        target, size=config.burst, senders=config.senders, deadline=config.deadline, seed_tps=seed_tps
    )
    return figures + cpu_per_signup_figures(before, cpu_by_kind(), config.burst)


async def _quota_with_cpu(config: BenchConfig, target: Endpoints) -> list[Figure]:
    """Quota consumes alone, and the platform's CPU per consume meanwhile."""
    before = cpu_by_kind()
    figure = await run_quota(target, rate=config.quota_rate, seconds=config.quota_seconds)
    consumes = round(config.quota_rate * config.quota_seconds)
    return [figure, *cpu_per_request_figure(before, cpu_by_kind(), consumes, what="quota consume (alone)")]


async def _one(work: Awaitable[Figure]) -> list[Figure]:
    return [await work]


def race_the_peer(run: BenchRun, config: BenchConfig, platform: Platform) -> None:
    """The monolith peer through the same steady and burst phases, the platform's services
    stopped first (the two never share the cores); then the platform ÷ peer ratios."""
    if platform.fleet is not None:
        platform.fleet.stop()
    say("the platform's services are stopped; racing the monolith peer on the same PostgreSQL")
    port = PEER_PORT + config.ports.service_offset
    with running_peer(
        server_url=platform.database_url, port=port, log_file=platform.root / "logs" / "peer.log"
    ) as peer:
        asyncio.run(_peer_phases(run, config, peer))
    compared = ratios(run.figures)
    for figure in compared:
        say(figure.line())
    run.figures += compared


async def _peer_phases(run: BenchRun, config: BenchConfig, peer: Endpoints) -> None:
    await run.phase("peer: warm-up signup", warm_up(peer, config.deadline))
    for rate in config.steady_rates:
        steady = run_steady(peer, rate=rate, seconds=config.steady_seconds, deadline=config.deadline)
        await run.phase(f"peer: steady {rate}/s", _named_peer(steady))
    burst = run_burst(
        peer, size=config.burst, senders=config.senders, deadline=config.deadline, seed_tps=None
    )
    await run.phase(f"peer: burst of {config.burst:,}", _named_peer(burst))


async def _named_peer(work: Awaitable[list[Figure]]) -> list[Figure]:
    return as_peer(await work)


def endpoints(platform: Platform, fleet: Fleet) -> Endpoints:
    return Endpoints(
        identity_url=fleet["identity"].url,
        billing_url=fleet["billing"].url,
        identity_db=database_url(platform.database_url, "identity"),
        kafka=platform.kafka_connection(),
    )


def own_infrastructure_only() -> None:
    """The bench measures a platform it starts itself, never one named by the environment."""
    for name in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"):
        if os.environ.pop(name, None):
            say(f"ignoring {name}: the bench starts its own")


def main() -> None:
    config = BenchConfig.from_env()
    own_infrastructure_only()
    production = profile_of() == "production"
    root = local_dir() / (f"{BENCH_RUN}-production" if production else BENCH_RUN)
    shutil.rmtree(root, ignore_errors=True)
    if production:
        # The same posture as `DEVSTACK_PROFILE=production make run` (TLS, SASL, ACLs, password
        # logins, production settings), on the bench's ports, with fresh secrets.
        profile = production_platform(
            root=root, offset=config.ports.service_offset, log=say, fresh=True, durable=True
        )
        platform = profile.platform
        start_services: Callable[[], Fleet] = partial(profile.start_services, overrides=BENCH_SECRETS)
    else:
        platform = Platform(
            root=root,
            ports=config.ports,
            durable=True,
            fresh=True,
            log=say,
            workers=worker_services(),
            background_nice=background_niceness(),
            # docs/scaling.md compares 1 and 3 brokers, 1 and 2 replicas per service.
            kafka_brokers=broker_count(),
            replicas=replica_counts(),
        )
        start_services = partial(platform.start_services, extra_env=SERVICE_ENV)
    replicas = ", ".join(f"{name} x{n}" for name, n in (platform.replicas or {}).items()) or "one each"
    say(f"profile: {'production' if production else 'development'}; Kafka brokers: {platform.kafka_brokers}")
    say(f"replicas: {replicas}")
    run = BenchRun()
    started, load_at_start = time.monotonic(), load_average()
    try:
        platform.start_infrastructure()
        seed = measure_seed_design(platform.database_url, seconds=config.pgbench_seconds, durable=True)
        asyncio.run(run.phase("seed design (pgbench)", _one(seed)))
        fleet = start_services()
        asyncio.run(load_phases(run, config, endpoints(platform, fleet)))
        run.figures += memory_figures(platform_processes())
        if config.peer:
            race_the_peer(run, config, platform)
    except KeyboardInterrupt:
        say("interrupted: stopping the platform; the figures so far follow")
        raise SystemExit(130) from None
    finally:
        platform.stop()
        print()
        print(run.report())
        print(f"bench took {time.monotonic() - started:.0f} s; {machine(load_at_start)}", flush=True)


if __name__ == "__main__":
    main()
