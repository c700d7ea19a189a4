"""What each service's composition root assembles: database, outbox relay, consumers, HTTP app.

Nothing here is built at import time; `ServiceRuntime` is created in a service's `create_app()`.
Start-up order: create the database if missing (development), apply the service's migrations
(as the migration login when one is set: `shared.db.migrations.prepare_database`), start the outbox
relay, then connect the consumers (in the background, retrying, so HTTP keeps accepting webhooks
into the outbox even while Kafka is down).

A process's role (`SERVICE_ROLE`, shared.settings) decides what of this it runs: an `api` process
has no consumers and no housekeeping (`runs_consumers`), so a request never queues behind a
consumer's batch on its event loop; a `worker` process runs them, beside a relay of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI

from shared.auth import TokenVerifier, install_auth, verifier_from_settings
from shared.db.group_commit import Apply, GroupCommit
from shared.db.migrations import prepare_database
from shared.db.plain_pool import create_plain_pool
from shared.db.session import Database, create_database
from shared.db.tenancy import app_role
from shared.errors import install_error_handlers
from shared.http.asyncapi import router as asyncapi_router
from shared.http.body_limit import install_body_limit
from shared.http.health import router as health_router
from shared.http.operator import TimelineHook, no_findings
from shared.http.operator import router as operator_router
from shared.messaging.consumer import EventConsumer, Handler, RetryPolicy
from shared.messaging.dlq import KafkaDeadLetterPublisher
from shared.messaging.loop import ConsumerLoop
from shared.metrics import install_metrics
from shared.outbox.relay import OutboxRelay, broker_answers, idempotent_producer
from shared.retention import Housekeeper
from shared.settings import ServiceSettings
from shared.telemetry import configure_tracing

log = logging.getLogger(__name__)

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


@dataclass(frozen=True)
class Subscription:
    """The handlers a service runs for the event types it consumes from one topic."""

    topic: str
    handlers: Mapping[str, Handler]


@dataclass
class ServiceRuntime:
    settings: ServiceSettings
    migrations: Path
    subscriptions: Sequence[Subscription] = ()
    database: Database = field(init=False)
    relay: OutboxRelay = field(init=False)
    housekeeper: Housekeeper = field(init=False)
    consumer_loop: ConsumerLoop | None = field(default=None, init=False)
    # Verifies bearer tokens against identity's JWKS (no I/O until the first token arrives).
    verifier: TokenVerifier = field(init=False)
    _dlq_producer: AIOKafkaProducer | None = field(default=None, init=False)
    _broker_task: asyncio.Task[None] | None = field(default=None, init=False)
    broker_connected: bool = field(default=False, init=False)
    _group_commits: dict[str, GroupCommit[Any, Any]] = field(default_factory=dict, init=False)
    _plain_pool: Any = field(default=None, init=False)
    _plain_pool_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    # What this service adds to `GET /v1/ops/timeline` (shared/http/operator.py).
    timeline_hook: TimelineHook = field(default_factory=lambda: no_findings, init=False)

    @property
    def name(self) -> str:
        return self.settings.service_name

    @property
    def runs_consumers(self) -> bool:
        """Whether this process runs the consumers and scheduled jobs (not in the `api` role)."""
        return self.settings.runs_consumers

    def build_app(
        self, *, title: str, routers: Sequence[APIRouter], timeline_hook: TimelineHook = no_findings
    ) -> FastAPI:
        """The service's HTTP app: its `routers` plus health, metrics and the operator routes
        (`timeline_hook` adds the service's own entries to `devstack trace`)."""
        app = FastAPI(title=title, version="1.0.0", lifespan=self._lifespan)
        app.state.runtime = self
        self.timeline_hook = timeline_hook
        self.verifier = verifier_from_settings(self.settings)
        install_auth(app, verifier=self.verifier, service_key=self.settings.service_key)
        install_error_handlers(app)
        install_body_limit(app, self.settings)  # 413 payload_too_large: docs/operations.md
        install_metrics(app, service=self.name)  # GET /metrics, no auth: docs/operations.md
        app.include_router(health_router)
        app.include_router(asyncapi_router)  # GET /asyncapi.json, no auth: docs/asyncapi/README.md
        app.include_router(operator_router)
        for router in routers:
            app.include_router(router)
        return app

    @asynccontextmanager
    async def _lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def start(self) -> None:
        configure_tracing(self.name)
        url = self.settings.effective_database_url
        await prepare_database(self.settings, script_location=self.migrations)
        self.database = create_database(url, session_role=app_role(self.name))
        kafka = self.settings.kafka_connection
        instance = self.settings.instance_name
        self.relay = OutboxRelay(
            database=self.database,
            producer_factory=lambda: idempotent_producer(kafka, client_id=f"{instance}-outbox"),
            safety_poll_seconds=self.settings.outbox_safety_poll_seconds,
            service=self.name,
        )
        await self.relay.start()
        self.housekeeper = Housekeeper(
            database=self.database,
            outbox_retention=timedelta(hours=self.settings.outbox_retention_hours),
            inbox_retention=timedelta(hours=self.settings.inbox_retention_hours),
        )
        if self.runs_consumers:
            await self.housekeeper.start()
        self._broker_task = asyncio.create_task(self._connect_broker(), name="broker-connect")

    def group_commit(self, name: str, apply: Apply[ItemT, ResultT]) -> GroupCommit[ItemT, ResultT]:
        """The process's group commit called `name` (made on first use): see shared.db.group_commit."""
        if name not in self._group_commits:
            self._group_commits[name] = GroupCommit(name=name, database=self.database, apply=apply)
        committer: GroupCommit[ItemT, ResultT] = self._group_commits[name]
        return committer

    async def plain_pool(self) -> Any:
        """The process's plain asyncpg pool (made on first use): see shared.db.plain_pool."""
        if self._plain_pool is None:  # the lock only while it is made, not on every request
            async with self._plain_pool_lock:
                if self._plain_pool is None:
                    self._plain_pool = await create_plain_pool(
                        self.database.url, session_role=app_role(self.name)
                    )
        return self._plain_pool

    async def stop(self) -> None:
        for committer in self._group_commits.values():
            await committer.stop()
        if self._plain_pool is not None:
            await self._plain_pool.close()
            self._plain_pool = None
        if self._broker_task:
            self._broker_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._broker_task
        await self._stop_consuming()
        await self.housekeeper.stop()
        await self.relay.stop()
        await self.database.dispose()

    def _build_consumers(self, dlq_producer: AIOKafkaProducer) -> ConsumerLoop | None:
        settings = self.settings
        if not self.subscriptions or not self.runs_consumers:
            return None
        dead_letters = KafkaDeadLetterPublisher(consumer=self.name, producer=dlq_producer)
        retry = RetryPolicy(
            max_attempts=settings.consumer_max_attempts,
            initial_seconds=settings.consumer_backoff_initial_seconds,
            max_seconds=settings.consumer_backoff_max_seconds,
        )
        consumers = [
            EventConsumer(
                name=self.name,
                topic=subscription.topic,
                handlers=subscription.handlers,
                database=self.database,
                dead_letters=dead_letters,
                retry=retry,
            )
            for subscription in self.subscriptions
        ]
        return ConsumerLoop(
            kafka=settings.kafka_connection,
            group_id=settings.consumer_group,
            client_id=self.settings.instance_name,
            consumers=consumers,
            max_batch=settings.consumer_batch_size,
        )

    async def _connect_broker(self) -> None:
        """Connect the dead-letter producer and the consumers, retrying until the broker answers."""
        delay = 0.2
        kafka = self.settings.kafka_connection
        bootstrap = kafka.bootstrap_servers
        while True:
            try:
                client_id = f"{self.settings.instance_name}-dlq"
                self._dlq_producer = idempotent_producer(kafka, client_id=client_id)
                await self._dlq_producer.start()
                self.consumer_loop = self._build_consumers(self._dlq_producer)
                if self.consumer_loop is not None:
                    await self.consumer_loop.start()
                self.broker_connected = True
                what = "consumers connected" if self.consumer_loop else "connected (no consumers here)"
                log.info("%s: %s to %s (role %s)", self.name, what, bootstrap, self.settings.role)
                return
            except Exception as error:  # broker not up yet: keep trying, HTTP stays available
                log.warning("%s: broker not reachable (%r); retrying in %.1fs", self.name, error, delay)
                await self._stop_consuming()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _stop_consuming(self) -> None:
        if self.consumer_loop is not None:
            with contextlib.suppress(Exception):
                await self.consumer_loop.stop()
            self.consumer_loop = None
        if self._dlq_producer is not None:
            with contextlib.suppress(Exception):
                await self._dlq_producer.stop()
            self._dlq_producer = None

    async def readiness(self) -> dict[str, bool]:
        checks = {"database": False, "broker": False}
        with contextlib.suppress(Exception):
            await self.database.ping()
            checks["database"] = True
        if self.broker_connected and self._dlq_producer is not None:
            checks["broker"] = await broker_answers(self._dlq_producer)
        return checks
