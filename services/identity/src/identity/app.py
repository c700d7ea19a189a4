"""identity's composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from identity import api
from identity.handlers import SUBSCRIPTIONS
from identity.service.signing_keys import ensure_active_key
from identity.service.timeline import timeline_findings
from identity.settings import IdentitySettings
from shared.runtime import ServiceRuntime


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    settings = settings or IdentitySettings()
    runtime = ServiceRuntime(
        settings=settings,
        migrations=Path(__file__).parent / "migrations",
        subscriptions=SUBSCRIPTIONS,
    )
    app = runtime.build_app(
        title="identity", routers=[api.router, api.well_known], timeline_hook=timeline_findings
    )
    runtime_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(started: FastAPI) -> AsyncIterator[None]:
        async with runtime_lifespan(started):
            # A signing key exists before the first request (the first start of a fresh database).
            async with runtime.database.unit_of_work() as session:
                await ensure_active_key(session, passphrase=settings.signing_key_passphrase)
            yield

    app.router.lifespan_context = lifespan
    return app
