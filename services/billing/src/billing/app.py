"""billing's composition root."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from billing import api
from billing.catalog import load_catalog
from billing.handlers import build_subscriptions
from billing.quota_lane import QuotaLane
from billing.service.catalog_sync import write_plan_limits
from billing.service.lapse_job import lapse_due_subscriptions
from billing.service.timeline import timeline_findings
from billing.settings import BillingSettings
from billing.stripe_gateway import StripeGateway
from shared.db.tables import utcnow
from shared.http.ratelimit import RateLimiter
from shared.metrics import UPGRADES, declare_series
from shared.runtime import ServiceRuntime

log = logging.getLogger(__name__)


def create_app(settings: BillingSettings | None = None) -> FastAPI:
    settings = settings or BillingSettings()
    stripe = StripeGateway(settings)
    runtime = ServiceRuntime(
        settings=settings,
        migrations=Path(__file__).parent / "migrations",
        subscriptions=build_subscriptions(stripe),
    )
    app = runtime.build_app(title="billing", routers=[api.router], timeline_hook=timeline_findings)
    # Each plan's upgrade series at 0 from the start, so the first upgrade shows on a graph.
    declare_series(UPGRADES, *[(code,) for code in load_catalog().plans])
    app.state.stripe = stripe
    app.state.stripe_sessions_limiter = RateLimiter(
        settings.stripe_sessions_per_org_per_minute, what="checkout and portal sessions of this org"
    )
    _run_beside(app, LapseJob(runtime=runtime, settings=settings))
    return app


def create_served_app(settings: BillingSettings | None = None) -> QuotaLane:
    """What `python -m billing` serves: the app behind the quota lane (billing.quota_lane), outside
    FastAPI itself, so a trusted backend's consume skips its whole pipeline, telemetry included."""
    app = create_app(settings)
    runtime: ServiceRuntime = app.state.runtime
    return QuotaLane(
        app,
        service=runtime.name,
        service_key=runtime.settings.service_key,
        max_body_bytes=runtime.settings.max_body_bytes,
        pool=runtime.plain_pool,
    )


class LapseJob:
    """The scheduled in-process job: every `lapse_check_seconds`, subscriptions whose past-due
    grace, trial or cancelled period has ended fall back to their kind's free plan. Replicas may
    all run it: each takes its orgs with FOR UPDATE SKIP LOCKED."""

    def __init__(self, *, runtime: ServiceRuntime, settings: BillingSettings) -> None:
        self._runtime = runtime
        self._grace = timedelta(days=settings.past_due_grace_days)
        self._interval = settings.lapse_check_seconds
        self._task: asyncio.Task[None] | None = None

    async def write_catalog(self) -> None:
        """The catalog's limits into `plan_limits` before the first request is served."""
        async with self._runtime.database.unit_of_work() as session:
            await write_plan_limits(session, catalog=load_catalog())

    async def run_once(self) -> int:
        async with self._runtime.database.unit_of_work() as session:
            return await lapse_due_subscriptions(session, grace=self._grace, now=utcnow())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                changed = await self.run_once()
                if changed:
                    log.info("lapse job: %d subscription(s) fell back to their free plan", changed)
            except Exception as error:  # the next round retries; the job must not die
                log.warning("lapse job failed: %r", error)

    @property
    def runs(self) -> bool:
        """Scheduled jobs run where the consumers run (`all` and `worker` processes)."""
        return self._runtime.runs_consumers

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="billing-lapse-job")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _run_beside(app: FastAPI, job: LapseJob) -> None:
    """After the runtime has started (database migrated): write the catalog's limits, start the
    job (not in an `api` process: jobs run with the consumers); stop it before the runtime stops."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app):
            await job.write_catalog()
            if job.runs:
                job.start()
            try:
                yield
            finally:
                await job.stop()

    app.router.lifespan_context = lifespan
