"""Broker chaos, short (issue 18): a three-broker cluster loses brokers under live traffic and no
event is lost, doubled or dead-lettered, and no service restarts.

The platform here is this module's own — three KRaft nodes (replication factor 3,
min.insync.replicas 2), one replica per service — on the test ports moved by 200 (+
DEVSTACK_TEST_PORT_OFFSET), data in `.local/broker-chaos-test`. While 300 signups (20 invited
into a team org) are spread over the kills and 10 Stripe upgrades go on: kill -9 the active
controller, the leader of the busiest partitions and a random broker, each restarted at once, then
the busiest leader again, kept down longer than the producers' delivery timeout.
`make chaos CHAOS_ARGS="--brokers"` is the long version.
"""

from __future__ import annotations

import asyncio
import random
import shutil
from collections.abc import Iterator

import pytest

from devstack.broker_chaos import PRODUCER_DELIVERY_TIMEOUT, run_broker_chaos
from devstack.paths import local_dir
from devstack.platform import Platform
from devstack.pytest_plugin import TEST_AUTH_SECRET, TEST_ENV, TEST_PORTS

ROOT = local_dir() / "broker-chaos-test"
LONG_STOP = PRODUCER_DELIVERY_TIMEOUT + 5


@pytest.fixture(scope="module")
def cluster_platform() -> Iterator[Platform]:
    shutil.rmtree(ROOT, ignore_errors=True)
    platform = Platform(
        root=ROOT,
        ports=TEST_PORTS.shifted(200),
        durable=False,
        fresh=True,
        use_stripe_mock=True,
        kafka_brokers=3,
        log=lambda message: print(f"[broker-chaos platform] {message}", flush=True),
    )
    try:
        platform.start_infrastructure()
        platform.start_services(extra_env=TEST_ENV)
        yield platform
    finally:
        platform.stop()


async def test_brokers_killed_under_traffic_lose_and_double_nothing(cluster_platform: Platform) -> None:
    seed = random.randrange(1_000_000)
    print(f"broker chaos seed {seed}")
    async with asyncio.timeout(420):
        report = await run_broker_chaos(
            cluster_platform,
            signups=300,
            kills=4,
            interval=3,
            long_stop=LONG_STOP,
            secret=TEST_AUTH_SECRET,
            rng=random.Random(seed),
            log=lambda line: print(f"[broker chaos] {line}", flush=True),
            invited=20,
            upgrades=10,
        )
    print(report.render())

    assert [kill.role for kill in report.kills] == [
        "controller",
        "busiest leader",
        "random",
        "busiest leader",
    ]
    assert report.kills[-1].down_for is not None and report.kills[-1].down_for > PRODUCER_DELIVERY_TIMEOUT
    assert all(kill.back_after is not None for kill in report.kills), report.render()
    assert report.controller_elections >= 1  # killing the active controller made the quorum elect
    assert report.kills[-1].led >= 1 and report.kills[-1].failover is not None  # kept down: they moved
    assert report.leader_changes >= report.kills[-1].led
    assert report.burst.abandoned == []
    assert len(report.burst.accepted) == 300
    assert (report.invited, report.upgrades) == (20, 10)
    assert report.problems == {}, report.render()
    assert report.dead_letters == 0
    assert report.service_restarts and not any(report.service_restarts.values())
    assert report.failures() == []
