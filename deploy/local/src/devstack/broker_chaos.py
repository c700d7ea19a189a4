"""Broker chaos: `kill -9` brokers of a replicated Kafka cluster during live traffic, then check.

The platform runs on three KRaft nodes (replication factor 3, min.insync.replicas 2). While a
burst of signups — some of them invited into a team org — and Stripe upgrades go on, a broker is
killed every few seconds: in turn the active controller, the leader of the busiest partitions and
a random one. The supervisor brings it back; the next kill waits until every partition has all its
replicas in sync again, so no kill takes away the last in-sync copy of anything. The last round
keeps the busiest leader down for longer than the producers' delivery timeout before it is
started again.

The verdict: every accepted webhook provisioned exactly once, nothing dead-lettered, no service
process restarted. The report shows what the kills caused: controller elections, partition leader
changes, the services' produce retries, consumer rebalances and failed offset commits (their
`/metrics`). `make chaos CHAOS_ARGS="--brokers"` runs it on a platform of its own;
tests/e2e/test_broker_chaos.py runs a short version in CI.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field

from devstack.chaos import dead_letter_count, wait_all_ready
from devstack.chaos_traffic import (
    UPGRADE_PLAN,
    Upgrades,
    invited_deliveries,
    invited_not_exactly_once,
    open_team,
    upgrade_some,
    upgrades_not_exactly_once,
)
from devstack.kafka import TOPICS, KafkaServer, end_offsets
from devstack.kafka_cluster import KafkaCluster
from devstack.kafka_observer import (
    Layout,
    LeaderWatch,
    busiest_leader,
    partition_layout,
    quorum_leader,
    under_replicated,
)
from devstack.platform import Platform
from devstack.provisioning import not_exactly_once
from devstack.scrape import Samples, parse, scrape_text, value
from devstack.svix_sender import BurstResult, send_burst, signup_deliveries
from devstack.system import Logger
from shared.messaging.kafka_connection import KafkaConnection

# aiokafka's producer gives a batch `request_timeout_ms` (40 s by default) to be delivered; the
# long stop outlasts it, so a producer that needed the stopped broker would have timed out.
PRODUCER_DELIVERY_TIMEOUT = 40.0
# A killed node restarted by the supervisor answers and is back in sync about 7-8 s later here.
EXPECTED_RECOVERY = 8.0
ROLES = ("controller", "busiest leader", "random")
COUNTED = {
    "produce retries": "backbone_kafka_produce_retries_total",
    "relay retries": "backbone_outbox_relay_failures_total",
    "consumer rebalances": "backbone_consumer_rebalances_total",
    "failed offset commits": "backbone_offset_commit_failures_total",
    "handler retries": "backbone_handler_retries_total",
}


@dataclass(frozen=True)
class BrokerKill:
    node_id: int
    role: str  # why this node: "controller", "busiest leader", "random"
    at: float  # seconds after the run started
    down_for: float | None  # the long stop: how long it was kept down; None: restarted at once
    # Seconds until no partition it led still named it as leader (the controller fenced it and
    # moved them); None when it was back before that happened.
    failover: float | None
    back_after: float | None  # seconds until it answered and every partition was in sync; None: never
    led: int  # partitions it led when killed

    def line(self) -> str:
        back = "NOT BACK IN SYNC" if self.back_after is None else f"all in sync after {self.back_after:5.1f}s"
        kept = f", kept down {self.down_for:.0f}s" if self.down_for is not None else ""
        if self.led == 0:
            moved = "it led no partition"  # it had just come back: leadership returns only later
        elif self.failover is not None:
            moved = f"its {self.led} leaderships moved after {self.failover:4.1f}s"
        else:
            moved = f"back before its {self.led} leaderships moved"
        return f"{self.at:6.1f}s  kill -9 kafka-{self.node_id} ({self.role}{kept}); {moved}; {back}"


@dataclass
class BrokerChaosReport:
    kills: list[BrokerKill]
    burst: BurstResult
    problems: dict[str, str]  # user id -> what is not exactly once (signups, invited, upgraded)
    dead_letters: int
    service_restarts: dict[str, int]  # replica -> restarts during the run (must be none)
    controller_elections: int
    leader_changes: int
    longest_leaderless: float
    counted: dict[str, float]  # COUNTED's names -> increase during the run, over all replicas
    upgrades: int
    invited: int
    seconds: float
    not_ready: list[str] = field(default_factory=list)

    def failures(self) -> list[str]:
        found = [f"kafka-{k.node_id} not back in sync" for k in self.kills if k.back_after is None]
        if self.burst.abandoned:
            found.append(f"{len(self.burst.abandoned)} deliveries never accepted")
        if self.problems:
            found.append(f"{len(self.problems)} users not provisioned exactly once")
        if self.dead_letters:
            found.append(f"{self.dead_letters} records dead-lettered")
        if restarted := {name: n for name, n in self.service_restarts.items() if n}:
            found.append(f"services restarted: {restarted}")
        if self.not_ready:
            found.append(f"not ready at the end: {', '.join(self.not_ready)}")
        return found

    def render(self) -> str:
        lines = [f"broker chaos: {self.seconds:.0f}s, {len(self.kills)} broker kills"]
        lines += [f"  {kill.line()}" for kill in self.kills]
        lines.append(
            f"cluster: {self.controller_elections} controller elections, {self.leader_changes} partition "
            f"leader changes seen (sampled), longest without a leader {self.longest_leaderless:.1f}s"
        )
        lines.append("services: " + ", ".join(f"{what} {n:.0f}" for what, n in self.counted.items()))
        lines.append(f"webhooks: {self.burst.summary()}")
        lines.append(
            f"provisioning ({len(self.burst.accepted)} signups, {self.invited} of them invited into a team, "
            f"{self.upgrades} upgraded through Stripe): "
            + ("every one exactly once" if not self.problems else "NOT exactly once:")
        )
        lines += [f"  {user}: {problem}" for user, problem in list(self.problems.items())[:20]]
        lines.append(f"dead letters during the run: {self.dead_letters}")
        lines.append(f"service restarts: {sum(self.service_restarts.values())}")
        failures = self.failures()
        lines.append("PASS" if not failures else "FAIL: " + "; ".join(failures))
        return "\n".join(lines)


async def run_broker_chaos(
    platform: Platform,
    *,
    signups: int,
    kills: int,
    interval: float,
    long_stop: float,
    secret: str,
    rng: random.Random,
    log: Logger,
    invited: int = 20,
    upgrades: int = 20,
    senders: int = 16,
    rate: float | None = None,
) -> BrokerChaosReport:
    """`kills` broker kills `interval` s apart (the last kept down `long_stop` s, if > 0) during
    a burst of `signups` (`invited` of them into a team) and `upgrades` Stripe upgrades.

    Without a `rate`, the signups are spread over the kills' expected length, so every kill —
    the long stop too — happens under traffic; what is left goes at once when the kills end.
    """
    fleet, cluster = platform.fleet, platform.kafka
    assert fleet is not None and cluster is not None and cluster.brokers >= 3, "needs a 3-broker platform"
    connection = cluster.admin_connection()
    # This process's own admin clients meet the killed broker too; their connection errors are
    # expected here and would drown the report (the services' logs keep theirs).
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    team = await open_team(platform, fleet, seats_wanted=invited)
    deliveries = signup_deliveries(signups - invited) + invited_deliveries(team, invited)
    rng.shuffle(deliveries)
    invited_ids = {d.user_id for d in deliveries if b"pending_invitation" in d.body}
    dead_letters_before = await dead_letter_count(connection)
    metrics_before = await _scrape_all(platform)
    elections_before = quorum_leader(cluster).epoch
    deaths_before = _service_deaths(platform)
    watch = LeaderWatch(connection, list(TOPICS))
    watch.start()
    if rate is None:
        rate = signups / (kills * (interval + EXPECTED_RECOVERY) + max(long_stop, 0))
    log(f"signups released at {rate:.1f}/s")
    started = time.monotonic()
    flush = asyncio.Event()
    result = BurstResult()
    burst = asyncio.create_task(
        send_burst(
            fleet["identity"].url,
            deliveries,
            secret=secret,
            senders=senders,
            rate=rate,
            flush=flush,
            result=result,
        )
    )
    upgrading = asyncio.create_task(
        upgrade_some(
            platform, fleet, result.accepted, count=upgrades, deadline=started + 600, skip=invited_ids
        )
    )
    done: list[BrokerKill] = []
    try:
        for number in range(kills):
            await asyncio.sleep(interval)
            keep_down = long_stop if long_stop > 0 and number == kills - 1 else None
            # The long stop takes the busiest leader: its partitions must move, whatever came before.
            role = "busiest leader" if keep_down is not None else ROLES[number % len(ROLES)]
            node_id = await _target(cluster, role, rng)
            done.append(await _kill(cluster, node_id, role, started=started, keep_down=keep_down))
            log(done[-1].line())
    finally:
        flush.set()
    burst_result = await burst
    upgraded: Upgrades = await upgrading
    log(f"burst done after {time.monotonic() - started:.1f}s: {burst_result.summary()}")
    await watch.stop()
    accepted = set(burst_result.accepted)
    plain = [user for user in burst_result.accepted if user not in invited_ids and user not in upgraded.orgs]
    problems = await not_exactly_once(platform.database_url, plain, timeout=120)
    problems |= await invited_not_exactly_once(platform, team, sorted(invited_ids & accepted))
    upgraded_users = list(upgraded.orgs)  # provisioned once like the others, on the new plan
    problems |= await not_exactly_once(platform.database_url, upgraded_users, plan=UPGRADE_PLAN)
    problems |= await upgrades_not_exactly_once(platform, upgraded)
    problems |= {f"upgrade {n}": failure for n, failure in enumerate(upgraded.failures)}
    return BrokerChaosReport(
        kills=done,
        burst=burst_result,
        problems=problems,
        dead_letters=await dead_letter_count(connection) - dead_letters_before,
        service_restarts={
            name: deaths - deaths_before.get(name, 0) for name, deaths in _service_deaths(platform).items()
        },
        controller_elections=quorum_leader(cluster).epoch - elections_before,
        leader_changes=watch.changes,
        longest_leaderless=watch.leaderless_seconds,
        counted=_increase(metrics_before, await _scrape_all(platform)),
        upgrades=len(upgraded.orgs),
        invited=len(invited_ids & accepted),
        seconds=time.monotonic() - started,
        not_ready=await wait_all_ready(platform),
    )


async def _target(cluster: KafkaCluster, role: str, rng: random.Random) -> int:
    if role == "controller":
        leader = quorum_leader(cluster).node_id
        if leader > 0:
            return leader
    if role == "busiest leader":
        connection = cluster.admin_connection()
        records = await end_offsets(connection, list(TOPICS))
        per_topic: dict[str, int] = {}
        for tp, offset in records.items():
            per_topic[tp.topic] = per_topic.get(tp.topic, 0) + offset
        return busiest_leader(await partition_layout(connection, list(TOPICS)), per_topic)
    return rng.choice(list(cluster.node_ids))


async def _kill(
    cluster: KafkaCluster, node_id: int, role: str, *, started: float, keep_down: float | None
) -> BrokerKill:
    """SIGKILL one node; restart it (the supervisor at once, or this after `keep_down` s); wait
    until it answers again and every partition has all its replicas in sync."""
    connection = cluster.admin_connection()
    node = cluster.node(node_id)
    led = [tp for tp, state in (await _layout(connection) or {}).items() if state.leader == node_id]
    killed_at = time.monotonic()
    if keep_down is None:
        process = node.child.process
        assert process is not None and process.poll() is None, f"kafka-{node_id} is not running"
        process.kill()  # the supervisor sees it die and starts it again
    else:
        node.child.kill()  # down, and the supervisor leaves it down until started again
    failover = await _failover(connection, node, led, since=killed_at)
    if keep_down is not None:
        await asyncio.sleep(max(keep_down - (time.monotonic() - killed_at), 0))  # traffic goes on
        await asyncio.to_thread(node.child.start)
    back_after = await _back_in_sync(connection, node, since=killed_at)
    return BrokerKill(node_id, role, killed_at - started, keep_down, failover, back_after, len(led))


async def _layout(connection: KafkaConnection) -> Layout | None:
    try:
        return await partition_layout(connection, list(TOPICS))
    except Exception:  # the node asked went away mid-call: the caller asks again
        return None


async def _failover(
    connection: KafkaConnection,
    node: KafkaServer,
    led: list[tuple[str, int]],
    *,
    since: float,
    timeout: float = 60,
) -> float | None:
    """Seconds until none of the partitions `node` led still names it as leader; None when it
    answered again (restarted) before the controller had moved them all."""
    while time.monotonic() < since + timeout:
        layout = await _layout(connection)
        if layout is not None and all(layout[tp].leader != node.node_id for tp in led if tp in layout):
            return time.monotonic() - since
        if node.child.alive() and await asyncio.to_thread(node.child.is_ready):
            return None
        await asyncio.sleep(0.25)
    return None


async def _back_in_sync(
    connection: KafkaConnection, node: KafkaServer, *, since: float, timeout: float = 180
) -> float | None:
    """Seconds from the kill until the node answers again and no partition is short of replicas."""
    while time.monotonic() < since + timeout:
        if node.child.alive() and await asyncio.to_thread(node.child.is_ready):
            layout = await _layout(connection)
            if layout is not None and not under_replicated(layout):
                return time.monotonic() - since
        await asyncio.sleep(0.5)
    return None


def _service_deaths(platform: Platform) -> dict[str, int]:
    """Deaths the supervisor recorded per service replica so far."""
    assert platform.fleet is not None
    replicas = {replica.name for replica in platform.fleet.all()}
    counts = dict.fromkeys(replicas, 0)
    for recovery in list(platform.supervisor.recoveries):
        if recovery.name in counts:
            counts[recovery.name] += 1
    return counts


async def _scrape_all(platform: Platform) -> Samples:
    assert platform.fleet is not None
    samples: Samples = {}
    for replica in platform.fleet.all():
        parse(await scrape_text(replica.own_url), into=samples)
    return samples


def _increase(before: Samples, after: Samples) -> dict[str, float]:
    return {what: value(after, name) - value(before, name) for what, name in COUNTED.items()}
