"""The outbox relay: publishes committed outbox rows to Kafka in order, then marks them sent.

It wakes on PostgreSQL NOTIFY (sent by a trigger at commit), so an event reaches Kafka within
milliseconds; a slow poll is only a safety net for a lost notification or listener connection.
One relay at a time drains a database (transaction-scoped advisory lock), which keeps per-key
order even with several replicas. A crash between publishing and marking re-publishes on restart:
consumers are idempotent, so at-least-once is safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence

import asyncpg
from aiokafka import AIOKafkaProducer

from shared.db.migrations import OUTBOX_CHANNEL
from shared.db.session import Database
from shared.settings import as_libpq_url

log = logging.getLogger(__name__)

_LOCK_KEY = 0x0B0C5  # any constant: one relay per database drains at a time
_BATCH = 500

_SELECT_UNSENT = (
    "SELECT position, topic, key, value, headers::text AS headers FROM outbox "
    "WHERE sent_at IS NULL ORDER BY position LIMIT $1"
)
_MARK_SENT = "UPDATE outbox SET sent_at = now() WHERE position = ANY($1::bigint[])"


class OutboxRelay:
    """Runs beside a service: drains its outbox to Kafka whenever something commits."""

    def __init__(
        self,
        *,
        database: Database,
        producer_factory: Callable[[], AIOKafkaProducer],
        safety_poll_seconds: float = 2.0,
    ) -> None:
        self._database = database
        self._producer_factory = producer_factory
        self._safety_poll_seconds = safety_poll_seconds
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._producer: AIOKafkaProducer | None = None
        self._listener: asyncpg.Connection | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close_listener()
        if self._producer:
            await self._producer.stop()
            self._producer = None

    @property
    def listening(self) -> bool:
        """True once the relay waits on NOTIFY (after its first drain)."""
        return self._listener is not None and not self._listener.is_closed()

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                await self._ensure_connected()
                while await self.drain_once() == _BATCH:
                    pass
                backoff = 0.1
                await self._wait_for_work()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying in %.1fs", backoff)
                await self._close_listener()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _wait_for_work(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout=self._safety_poll_seconds)
        self._wakeup.clear()

    async def _ensure_connected(self) -> None:
        if self._producer is None:
            producer = self._producer_factory()
            await producer.start()
            self._producer = producer
        if self._listener is None or self._listener.is_closed():
            url = as_libpq_url(self._database.url)
            self._listener = await asyncpg.connect(url)
            await self._listener.add_listener(OUTBOX_CHANNEL, self._on_notify)

    def _on_notify(self, *_: object) -> None:
        self._wakeup.set()

    async def _close_listener(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None

    async def drain_once(self) -> int:
        """Publish one batch of unsent rows in position order; returns how many were sent.

        It runs on the relay's own asyncpg connection (the one that LISTENs): a drain is five
        statements, and without SQLAlchemy in between they cost a fraction of the CPU.
        """
        assert self._producer is not None and self._listener is not None
        connection = self._listener
        async with connection.transaction():
            if not await connection.fetchval("SELECT pg_try_advisory_xact_lock($1)", _LOCK_KEY):
                return 0
            rows = await connection.fetch(_SELECT_UNSENT, _BATCH)
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


def idempotent_producer(bootstrap_servers: str, *, client_id: str) -> AIOKafkaProducer:
    """The producer the guarantees need: idempotence on, `acks=all`."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
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
