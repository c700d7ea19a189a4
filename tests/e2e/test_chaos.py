"""No lost signups (DESIGN §10): kill -9 every piece of the platform once during a burst of signups.

Each service (its one replica), Kafka, PostgreSQL and the SMTP sink are killed at random moments
of a 300-signup burst sent by 16 Svix-like senders (outages may overlap); the platform's
supervisor restarts them. Every accepted webhook must end provisioned exactly once, nothing
dead-lettered, everything back and ready. How long each piece took to come back is printed; it
is not asserted, as timings on a shared machine are measurements, not test outcomes (`make
chaos` holds them to DESIGN §10's bounds).
"""

from __future__ import annotations

import asyncio
import random

from devstack.chaos import run_chaos
from devstack.platform import Platform
from devstack.pytest_plugin import TEST_AUTH_SECRET
from devstack.services import Fleet

SIGNUPS = 300
SENDERS = 16
RATE = 15  # signups/s released while the kills go on; the rest at once when they are over
WINDOW = 15  # seconds within which the kills fall


async def test_every_signup_is_provisioned_once_while_each_piece_is_killed(
    services: Fleet, platform: Platform
) -> None:
    assert platform.kafka is not None and platform.postgres is not None, "it kills the session's servers"
    seed = random.randrange(1_000_000)
    targets = [group[0].name for group in services.replicas.values()] + ["kafka", "postgres", "smtp-sink"]
    print(f"chaos seed {seed}: killing {', '.join(targets)} within {WINDOW}s")

    async with asyncio.timeout(240):
        report = await run_chaos(
            platform,
            signups=SIGNUPS,
            rounds=[targets],
            window=WINDOW,
            secret=TEST_AUTH_SECRET,
            rng=random.Random(seed),
            log=lambda line: print(f"[chaos] {line}", flush=True),
            senders=SENDERS,
            rate=RATE,
        )
    print(report.render(recovery_bounds=False))

    assert sorted(kill.target for kill in report.kills) == sorted(targets)
    assert [kill.target for kill in report.kills if kill.back_after is None] == []
    assert report.burst.abandoned == []
    assert len(report.burst.accepted) == SIGNUPS
    assert report.problems == {}, report.render()
    assert report.dead_letters == 0
    assert report.not_ready == []
