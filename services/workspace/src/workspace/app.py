"""workspace's composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from shared.runtime import ServiceRuntime
from workspace import api
from workspace.archiver import Archiver
from workspace.handlers import SUBSCRIPTIONS
from workspace.service.timeline import timeline_findings
from workspace.settings import WorkspaceSettings


def create_app(settings: WorkspaceSettings | None = None) -> FastAPI:
    settings = settings or WorkspaceSettings()
    runtime = ServiceRuntime(
        settings=settings,
        migrations=Path(__file__).parent / "migrations",
        subscriptions=SUBSCRIPTIONS,
    )
    app = runtime.build_app(title="workspace", routers=[api.router], timeline_hook=timeline_findings)
    runtime_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The shared runtime starts first (database, migrations, relay, consumers); the archiver
        # needs its database.
        async with runtime_lifespan(app):
            archiver = Archiver(
                database=runtime.database,
                idle_for=timedelta(days=settings.archive_after_days),
                interval_seconds=settings.archive_interval_seconds,
            )
            await archiver.start()
            app.state.archiver = archiver
            try:
                yield
            finally:
                await archiver.stop()

    app.router.lifespan_context = lifespan
    return app
