"""skool_ingest's composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from shared.runtime import ServiceRuntime
from skool_ingest import api
from skool_ingest.handlers import build_subscriptions
from skool_ingest.service.rejections import RejectionCounter
from skool_ingest.service.timeline import timeline_findings
from skool_ingest.service.welcome import Mailer
from skool_ingest.settings import SkoolIngestSettings


def create_app(settings: SkoolIngestSettings | None = None) -> FastAPI:
    settings = settings or SkoolIngestSettings()
    mailer = Mailer(
        smtp_host=settings.smtp_host,
        smtp_port=settings.smtp_port,
        mail_from=settings.mail_from,
        signup_url=settings.signup_url,
    )
    runtime = ServiceRuntime(
        settings=settings,
        migrations=Path(__file__).parent / "migrations",
        subscriptions=build_subscriptions(mailer),
    )
    app = runtime.build_app(title="skool_ingest", routers=[api.router], timeline_hook=timeline_findings)
    app.state.rejections = RejectionCounter(flush_seconds=settings.rejection_flush_seconds)
    _flush_rejections_beside(app, runtime)
    return app


def _flush_rejections_beside(app: FastAPI, runtime: ServiceRuntime) -> None:
    """Once the runtime has started (database migrated), write refusal counts in the background;
    write the last ones before the runtime stops."""
    inner = app.router.lifespan_context
    counter: RejectionCounter = app.state.rejections

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app):
            counter.start(runtime.database)
            try:
                yield
            finally:
                await counter.stop()

    app.router.lifespan_context = lifespan
