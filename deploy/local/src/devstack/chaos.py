"""Chaos: `kill -9` pieces of the platform at random moments during a burst of signups, then check.

Kills happen one at a time: a random pause, a SIGKILL, then wait until the supervisor reports the
piece ready again (so each recovery is measured on its own). Meanwhile senders deliver signup
webhooks like Svix, retrying whatever is not accepted. Afterwards: every accepted signup must be
provisioned exactly once, nothing may have reached a `.dlq`, and each piece must have come back
within DESIGN §10's bounds (a service within 10 s, Kafka or PostgreSQL within 30 s).

`make chaos` runs the operator version (`python -m devstack.chaos`) on its own platform; the
e2e test `tests/e2e/test_chaos.py` runs one round against the test session's platform.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import sys
import time
from collections.abc import Sequence

from devstack.chaos_report import ChaosReport, Kill
from devstack.child import Child
from devstack.kafka import TOPICS, end_offsets
from devstack.paths import local_dir
from devstack.platform import Platform, Ports
from devstack.provisioning import not_exactly_once
from devstack.pytest_plugin import TEST_AUTH_SECRET, TEST_ENV
from devstack.services import replica_counts
from devstack.svix_sender import send_burst, signup_deliveries
from devstack.system import Logger
from shared.messaging.kafka_connection import KafkaTarget

DLQ_TOPICS = [f"{topic}.dlq" for topic in TOPICS]


async def dead_letter_count(kafka: KafkaTarget) -> int:
    return sum((await end_offsets(kafka, DLQ_TOPICS)).values())


async def kill_and_wait(platform: Platform, target: str, *, started: float, timeout: float = 120) -> Kill:
    """SIGKILL `target` (a replica, `kafka`, `postgres`, `smtp-sink`); wait until it is ready again."""
    child = platform.children()[target]
    deadline = time.monotonic() + timeout
    while (process := child.process) is None or process.poll() is not None:  # mid-restart: wait
        if time.monotonic() > deadline:
            raise RuntimeError(f"{target} is not running, nothing to kill")
        await asyncio.sleep(0.05)
    killed_at = time.monotonic()
    os.kill(process.pid, signal.SIGKILL)
    deadline = killed_at + timeout
    while (recovery := platform.supervisor.recovery_of(target, since=killed_at)) is None or (
        recovery.ready_at is None
    ):
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    back_after = None if recovery is None or recovery.ready_at is None else recovery.ready_at - killed_at
    restarts = recovery.restarts if recovery else 0
    return Kill(target, killed_at - started, process.pid, back_after, restarts)


async def kill_round(
    platform: Platform,
    targets: Sequence[str],
    *,
    window: float,
    rng: random.Random,
    started: float,
    log: Logger,
    one_at_a_time: bool = False,
) -> list[Kill]:
    """Kill each target once at a random moment within `window` seconds; wait until all are back.

    Outages may overlap (Kafka down while a service restarts): that is part of the chaos.
    `one_at_a_time` waits for each target to be back before the next pause and kill instead, so
    every recovery is measured alone (what DESIGN §10's bounds are about).
    """
    if one_at_a_time:
        kills = []
        for target in targets:
            await asyncio.sleep(rng.uniform(0.5, max(window / len(targets), 0.5)))  # a random moment
            kills.append(await kill_and_wait(platform, target, started=started))
            log(kills[-1].line())
        return kills
    moments = [rng.uniform(0.5, max(window, 0.5)) for _ in targets]

    async def kill_at(target: str, moment: float) -> Kill:
        await asyncio.sleep(moment)  # a random moment of the burst, not a wait for an event
        kill = await kill_and_wait(platform, target, started=started)
        log(kill.line())
        return kill

    return list(await asyncio.gather(*(kill_at(t, m) for t, m in zip(targets, moments, strict=True))))


async def wait_all_ready(platform: Platform, *, timeout: float = 60) -> list[str]:
    """Poll until every child of the platform is alive and ready; the names still not at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        children = list(platform.children().values())
        ready = await asyncio.gather(*(asyncio.to_thread(_up, child) for child in children))
        missing = [child.name for child, up in zip(children, ready, strict=True) if not up]
        if not missing or time.monotonic() > deadline:
            return missing
        await asyncio.sleep(0.2)


def _up(child: Child) -> bool:
    return child.alive() and child.is_ready()


async def run_chaos(
    platform: Platform,
    *,
    signups: int,
    rounds: Sequence[Sequence[str]],
    window: float,
    secret: str,
    rng: random.Random,
    log: Logger,
    senders: int = 16,
    rate: float = 10,
    one_at_a_time: bool = False,
) -> ChaosReport:
    """A burst of `signups` (released at `rate`/s while kills go on) and, meanwhile, each round's
    targets killed at random moments within `window` seconds; the next round starts once all are back."""
    assert platform.fleet is not None, "start the services first"
    dead_letters_before = await dead_letter_count(platform.kafka_connection())
    flush = asyncio.Event()
    started = time.monotonic()
    burst = asyncio.create_task(
        send_burst(
            platform.fleet["identity"].url,
            signup_deliveries(signups),
            secret=secret,
            senders=senders,
            rate=rate,
            flush=flush,
        )
    )
    kills: list[Kill] = []
    try:
        for targets in rounds:
            kills += await kill_round(
                platform,
                targets,
                window=window,
                rng=rng,
                started=started,
                log=log,
                one_at_a_time=one_at_a_time,
            )
    finally:
        flush.set()  # the kills are over: send what is left at once
    result = await burst
    log(f"burst done after {time.monotonic() - started:.1f}s: {result.summary()}")
    problems = await not_exactly_once(platform.database_url, result.accepted, timeout=90)
    not_ready = await wait_all_ready(platform)
    return ChaosReport(
        kills=kills,
        burst=result,
        problems=problems,
        dead_letters=await dead_letter_count(platform.kafka_connection()) - dead_letters_before,
        seconds=time.monotonic() - started,
        not_ready=not_ready,
    )


def kill_plan(platform: Platform, *, rounds: int, rng: random.Random) -> list[list[str]]:
    """Each round: one replica of every service, Kafka, PostgreSQL and the SMTP sink."""
    assert platform.fleet is not None, "start the services first"
    present = platform.children()
    servers: list[str] = [name for name in ("kafka", "postgres", "smtp-sink") if name in present]
    return [
        [rng.choice(group).name for group in platform.fleet.replicas.values()] + servers
        for _ in range(rounds)
    ]


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def main() -> None:
    setting = os.environ.get
    parser = argparse.ArgumentParser(prog="python -m devstack.chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--signups", type=int, default=int(setting("CHAOS_SIGNUPS", "2000")))
    parser.add_argument("--rounds", type=int, default=int(setting("CHAOS_ROUNDS", "3")), help="kill rounds")
    parser.add_argument("--window", type=float, default=20.0, help="seconds in which a round's kills fall")
    parser.add_argument("--senders", type=int, default=16, help="concurrent webhook senders")
    parser.add_argument(
        "--rate", type=float, default=None, help="signups/s (default 15; broker mode: spread over the kills)"
    )
    parser.add_argument("--replicas", type=int, default=int(setting("DEVSTACK_REPLICAS", "2")))
    parser.add_argument("--seed", type=int, default=None, help="replays a run's kill order and moments")
    parser.add_argument(
        "--one-at-a-time", action="store_true", help="each kill waits until the previous piece is back"
    )
    parser.add_argument(
        "--no-recovery-bounds", action="store_true", help="slow recoveries are reported, not failures"
    )
    brokers = parser.add_argument_group("broker mode (devstack.broker_chaos)")
    brokers.add_argument(
        "--brokers", action="store_true", help="a 3-broker cluster; kill -9 brokers instead of pieces"
    )
    brokers.add_argument("--kills", type=int, default=9, help="broker kills (the last is the long stop)")
    brokers.add_argument("--interval", type=float, default=5.0, help="seconds between a recovery and a kill")
    brokers.add_argument(
        "--long-stop", type=float, default=50.0, help="seconds the last broker stays down (0: none)"
    )
    args = parser.parse_args()
    args.rate_given = args.rate is not None or "CHAOS_RATE" in os.environ
    if args.rate is None:
        args.rate = float(setting("CHAOS_RATE", "15"))
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    rng = random.Random(seed)
    root = local_dir() / "chaos-run"
    shutil.rmtree(root, ignore_errors=True)
    platform = Platform(
        root=root,
        ports=Ports().shifted(int(setting("DEVSTACK_PORT_OFFSET", "400"))),
        durable=False,
        fresh=True,
        log=_say,
        replicas=replica_counts({**os.environ, "DEVSTACK_REPLICAS": str(args.replicas)}),
        kafka_brokers=3 if args.brokers else 1,
    )
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop the platform on SIGTERM too
    code = 1
    try:
        platform.start_infrastructure()
        fleet = platform.start_services(extra_env=TEST_ENV)
        if args.brokers:
            sys.exit(_broker_mode(platform, args, seed=seed, rng=rng))
        rounds = kill_plan(platform, rounds=args.rounds, rng=rng)
        servers = ", ".join(rounds[0][len(fleet.replicas) :]) if rounds else "-"
        _say(f"seed {seed}: {args.signups} signups at {args.rate:g}/s; {args.rounds} kill rounds")
        _say(f"each round kills one replica of every service and {servers}, within {args.window:g}s")
        report = asyncio.run(
            run_chaos(
                platform,
                signups=args.signups,
                rounds=rounds,
                window=args.window,
                secret=TEST_AUTH_SECRET,
                rng=rng,
                log=_say,
                senders=args.senders,
                rate=args.rate,
                one_at_a_time=args.one_at_a_time,
            )
        )
        bounds = not args.no_recovery_bounds
        print(report.render(recovery_bounds=bounds), flush=True)
        code = 0 if not report.failures(recovery_bounds=bounds) else 1
    except KeyboardInterrupt:
        _say("interrupted")
    finally:
        platform.stop()
    sys.exit(code)


def _broker_mode(platform: Platform, args: argparse.Namespace, *, seed: int, rng: random.Random) -> int:
    """The broker mode's run and report; its exit code."""
    from devstack.broker_chaos import run_broker_chaos  # it builds on this module

    _say(
        f"seed {seed}: {args.signups} signups on 3 brokers; {args.kills} broker kills "
        f"{args.interval:g}s apart, the last kept down {args.long_stop:g}s"
    )
    report = asyncio.run(
        run_broker_chaos(
            platform,
            signups=args.signups,
            kills=args.kills,
            interval=args.interval,
            long_stop=args.long_stop,
            secret=TEST_AUTH_SECRET,
            rng=rng,
            log=_say,
            senders=args.senders,
            rate=args.rate if args.rate_given else None,
        )
    )
    print(report.render(), flush=True)
    return 0 if not report.failures() else 1


if __name__ == "__main__":
    main()
