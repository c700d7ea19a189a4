"""The outbox relay: publishes committed outbox rows to Kafka in order, then marks them sent.

It is woken in-process right after a unit of work that wrote outbox rows commits
(`Database.outbox_listeners`), so an event reaches Kafka within milliseconds; a slow poll is only
a safety net for rows committed by another process. (It used to wake on a PostgreSQL NOTIFY sent
by a trigger; PostgreSQL serialises every notifying commit cluster-wide, WAL flush included,
which capped the whole platform — see docs/performance.md.) One relay at a time drains a database
(a session advisory lock, taken when a drain starts and given back when the relay goes idle),
which keeps per-key order even with several replicas; a relay that finds the lock taken tries
again shortly, so a row committed by its own replica while another drains is not left for the
poll. A crash between publishing and marking re-publishes on restart: consumers are idempotent,
so at-least-once is safe.

A drain is two round trips to PostgreSQL, not five: taking the lock and reading the unsent rows
is one statement, and marking them sent is one statement in its own (autocommit) transaction,
committed asynchronously (`synchronous_commit = off`). Losing that mark in a server crash only
re-publishes rows consumers already deduplicate; the rows themselves were committed durably by
the transaction that wrote them. (docs/performance.md, issue 17.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from sqlalchemy import text

from shared.db.session import Database
from shared.messaging.kafka_connection import KafkaTarget, as_connection
from shared.messaging.produce_retries import count_produce_retries
from shared.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG, RELAY_FAILURES
from shared.settings import as_libpq_url

log = logging.getLogger(__name__)

DRAIN_LOCK_KEY = 0x0B0C5  # any constant: one relay per database drains at a time (pg_locks objid)
_BATCH = 500
_LOCKED_OUT_RETRY_SECONDS = 0.02

_COLUMNS = "position, event_type, topic, key, value, headers::text AS headers"
_SELECT_UNSENT = f"SELECT {_COLUMNS} FROM outbox WHERE sent_at IS NULL ORDER BY position LIMIT $1"
# Take the drain lock and read in one round trip. The lock is tried once (MATERIALIZED), before
# the read; a relay that did not get it reads nothing and learns so from `held`. (The read's
# snapshot is the statement's, taken just before the lock: if another relay marked rows sent and
# let go of the lock in that instant, they are published twice — consumers deduplicate.)
_LOCK_AND_SELECT_UNSENT = (
    "WITH drain AS MATERIALIZED (SELECT pg_try_advisory_lock($1) AS held) "
    "SELECT drain.held, unsent.* FROM drain LEFT JOIN LATERAL ("
    f"SELECT {_COLUMNS} FROM outbox WHERE drain.held AND sent_at IS NULL ORDER BY position LIMIT $2"
    ") AS unsent ON true"
)
_UNLOCK = "SELECT pg_advisory_unlock($1)"
_MARK_SENT = "UPDATE outbox SET sent_at = now() WHERE position = ANY($1::bigint[])"
# For the backlog gauges: measured when the relay goes idle, at most once a second, so a busy
# relay (woken on every commit) pays one extra query per second, not one per drain.
_BACKLOG_EVERY_SECONDS = 1.0
# A relay that has not measured for this long is stuck (or busy draining): the watcher measures.
_STUCK_AFTER_SECONDS = 5.0
_BACKLOG = (
    "SELECT count(*) AS rows, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS oldest "
    "FROM outbox WHERE sent_at IS NULL"
)


class OutboxRelay:
    """Runs beside a service: drains its outbox to Kafka whenever something commits."""

    def __init__(
        self,
        *,
        database: Database,
        producer_factory: Callable[[], AIOKafkaProducer],
        safety_poll_seconds: float = 2.0,
        service: str = "unknown",
    ) -> None:
        self._service = service
        self._backlog_measured_at = 0.0
        self._database = database
        self._producer_factory = producer_factory
        self._safety_poll_seconds = safety_poll_seconds
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._producer: AIOKafkaProducer | None = None
        self._connection: asyncpg.Connection | None = None
        self._holding_lock = False  # this relay's session holds the drain lock
        database.outbox_listeners.append(self.wake)
        count_produce_retries(service)
        self._failures = RELAY_FAILURES.labels(service)  # a series at 0 before the first failure

    def wake(self) -> None:
        """Something committed outbox rows: drain now."""
        self._wakeup.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")
        self._watcher = asyncio.create_task(self._watch_backlog(), name="outbox-backlog-watcher")

    async def stop(self) -> None:
        for task in (self._task, self._watcher):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._close_connection()
        if self._producer:
            await self._producer.stop()
            self._producer = None

    @property
    def connected(self) -> bool:
        """True once the relay has its database connection and producer (after its first drain)."""
        return self._connection is not None and not self._connection.is_closed()

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                await self._ensure_connected()
                await self._drain_all()
                await self._measure_backlog()
                backoff = 0.1
                await self._wait_for_work()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying in %.1fs", backoff)
                self._failures.inc()
                await self._close_connection()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _drain_all(self) -> None:
        """Drain until a drain finds less than a full batch, then give the drain lock back; wait
        out another replica's drain."""
        while True:
            sent = await self.drain_once()
            if sent is None:
                await asyncio.sleep(_LOCKED_OUT_RETRY_SECONDS)
            elif sent < _BATCH:
                await self._release_lock()
                return

    async def _release_lock(self) -> None:
        if self._holding_lock and self._connection is not None:
            await self._connection.fetchval(_UNLOCK, DRAIN_LOCK_KEY)
        self._holding_lock = False

    async def _measure_backlog(self) -> None:
        """Refresh the outbox backlog gauges (rows not yet sent, oldest one's age)."""
        assert self._connection is not None
        now = time.monotonic()
        if now - self._backlog_measured_at < _BACKLOG_EVERY_SECONDS:
            return
        self._backlog_measured_at = now
        self._record_backlog(await self._connection.fetchrow(_BACKLOG))

    async def _watch_backlog(self) -> None:
        """Keep the gauges true while the relay is stuck (broker down: a send waits out its
        timeout, then the relay retries — the backlog grows exactly then). It measures through the
        service's pool, and only when the relay has not measured for a while."""
        while True:
            await asyncio.sleep(_STUCK_AFTER_SECONDS)
            if time.monotonic() - self._backlog_measured_at < _STUCK_AFTER_SECONDS:
                continue
            self._backlog_measured_at = time.monotonic()
            try:
                async with self._database.engine.connect() as connection:
                    row = (await connection.execute(text(_BACKLOG))).mappings().one()
            except Exception as error:  # the database may be what is down; try again later
                log.warning("outbox backlog not measured: %r", error)
                continue
            self._record_backlog(row)

    def _record_backlog(self, row: Any) -> None:
        """Set the gauges from a `_BACKLOG` row (an asyncpg record or a SQLAlchemy mapping)."""
        if row is not None:
            OUTBOX_BACKLOG.set(self._service, rows=int(row["rows"]), oldest_seconds=float(row["oldest"]))

    async def _wait_for_work(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout=self._safety_poll_seconds)
        self._wakeup.clear()

    async def _ensure_connected(self) -> None:
        if self._producer is None:
            producer = self._producer_factory()
            await producer.start()
            self._producer = producer
        if self._connection is None or self._connection.is_closed():
            self._holding_lock = False  # a session lock ends with its session
            self._connection = await asyncpg.connect(
                as_libpq_url(self._database.url), server_settings={"synchronous_commit": "off"}
            )

    async def _close_connection(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None
            self._holding_lock = False

    async def drain_once(self) -> int | None:
        """Publish one batch of unsent rows in position order; returns how many were sent, or
        None when another relay (a replica's) holds the drain lock.

        It runs on the relay's own asyncpg connection, without SQLAlchemy in between: two
        statements when it takes the lock with its read, and while it holds the lock (a run of
        full batches) the read alone.
        """
        assert self._producer is not None and self._connection is not None
        connection = self._connection
        if self._holding_lock:
            rows = await connection.fetch(_SELECT_UNSENT, _BATCH)
        else:
            locked = await connection.fetch(_LOCK_AND_SELECT_UNSENT, DRAIN_LOCK_KEY, _BATCH)
            if not locked[0]["held"]:
                return None
            self._holding_lock = True
            rows = [row for row in locked if row["position"] is not None]
        if not rows:
            return 0
        await self._publish(rows)
        await connection.execute(_MARK_SENT, [row["position"] for row in rows])
        return len(rows)

    async def _publish(self, rows: Sequence[asyncpg.Record]) -> None:
        assert self._producer is not None
        # Sends are queued in order and awaited together: the idempotent producer keeps
        # per-partition order across retries, so batching costs no ordering.
        deliveries = [
            await self._producer.send(
                row["topic"],
                value=bytes(row["value"]),
                key=row["key"].encode(),
                headers=[(name, value.encode()) for name, value in json.loads(row["headers"]).items()],
            )
            for row in rows
        ]
        await asyncio.gather(*deliveries)
        for row in rows:
            EVENTS_PUBLISHED.labels(self._service, row["event_type"]).inc()


def idempotent_producer(connection: KafkaTarget, *, client_id: str) -> AIOKafkaProducer:
    """The producer the guarantees need: idempotence on, `acks=all`; connected as `connection`
    says (a bare bootstrap address is a plaintext broker)."""
    return AIOKafkaProducer(
        **as_connection(connection).client_kwargs(),
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=0,
    )


async def broker_answers(producer: AIOKafkaProducer, *, timeout: float = 2.0) -> bool:
    """True when the broker answers a metadata request on this producer's connection."""
    try:
        await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout=timeout)
    except Exception:
        return False
    return True
