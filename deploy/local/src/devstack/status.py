"""`devstack status`: what an operator asks first — is anything stuck?

Per service: unsent outbox rows and the age of the oldest. Per consumer group and topic: lag
(records not yet committed). Per topic: how many dead letters its `.dlq` holds.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

from devstack.asyncapi import service_apps
from devstack.kafka import TOPICS, end_offsets
from devstack.postgres import database_url as url_of_database
from devstack.services import SERVICES, ServiceSpec, database_name
from shared.messaging.kafka_connection import KafkaTarget, as_connection


def consumed_topics() -> dict[str, tuple[str, ...]]:
    """Which consumer group reads which topics, from each service's own subscriptions (the code
    that consumes, not a list kept by hand beside it)."""
    groups = {}
    for app in service_apps().values():
        runtime = app.state.runtime
        if runtime.subscriptions:
            groups[runtime.settings.consumer_group] = tuple(s.topic for s in runtime.subscriptions)
    return groups


@dataclass(frozen=True)
class OutboxBacklog:
    service: str
    unsent: int
    oldest_seconds: float | None


@dataclass(frozen=True)
class Lag:
    group: str
    topic: str
    lag: int


@dataclass(frozen=True)
class Status:
    outboxes: list[OutboxBacklog]
    lags: list[Lag]
    dead_letters: dict[str, int]

    @property
    def settled(self) -> bool:
        """Every outbox published and every group at the end of every topic it reads."""
        return all(b.unsent == 0 for b in self.outboxes) and all(lag.lag == 0 for lag in self.lags)


async def _outbox(server_url: str, spec: ServiceSpec) -> OutboxBacklog:
    connection = await asyncpg.connect(url_of_database(server_url, database_name(spec)))
    try:
        row = await connection.fetchrow(
            "SELECT count(*) AS unsent, extract(epoch FROM now() - min(created_at)) AS oldest "
            "FROM outbox WHERE sent_at IS NULL"
        )
    finally:
        await connection.close()
    oldest = float(row["oldest"]) if row["oldest"] is not None else None
    return OutboxBacklog(service=spec.name, unsent=int(row["unsent"]), oldest_seconds=oldest)


async def collect_status(*, kafka: KafkaTarget, database_url: str) -> Status:
    """Read outbox backlogs, consumer lag and dead-letter counts."""
    outboxes = await asyncio.gather(*(_outbox(database_url, spec) for spec in SERVICES))
    dlqs = [f"{topic}.dlq" for topic in TOPICS]
    ends = await end_offsets(kafka, [*TOPICS, *dlqs])
    admin = AIOKafkaAdminClient(**as_connection(kafka).client_kwargs())
    await admin.start()
    try:
        lags = []
        for group, topics in consumed_topics().items():
            committed = await admin.list_consumer_group_offsets(group)
            for topic in topics:
                lag = sum(
                    end - (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0)
                    for tp, end in ends.items()
                    if tp.topic == topic
                )
                lags.append(Lag(group=group, topic=topic, lag=lag))
    finally:
        await admin.close()
    dead = {topic: sum(end for tp, end in ends.items() if tp.topic == f"{topic}.dlq") for topic in TOPICS}
    return Status(outboxes=list(outboxes), lags=lags, dead_letters=dead)


def render(status: Status) -> str:
    lines = ["outbox (unsent rows, oldest):"]
    for backlog in status.outboxes:
        oldest = f"{backlog.oldest_seconds:.1f}s" if backlog.oldest_seconds is not None else "-"
        lines.append(f"    {backlog.service:<12} {backlog.unsent:>6}  {oldest}")
    lines.append("consumer lag (records not yet committed):")
    for lag in status.lags:
        lines.append(f"    {lag.group:<12} {lag.topic:<24} {lag.lag:>6}")
    lines.append("dead letters (records in <topic>.dlq; replay: python -m shared.messaging.replay <topic>):")
    for topic, count in status.dead_letters.items():
        lines.append(f"    {topic:<24} {count:>6}")
    return "\n".join(lines)
