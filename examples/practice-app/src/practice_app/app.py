"""The example app: FastAPI for its API, a FastStream broker (from the kit) for the events it
consumes, its own PostgreSQL database; all started and stopped in the app's lifespan."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from faststream.specification import AsyncAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from backbone_client.bearer import install_bearer_auth
from backbone_client.client import PlatformClient
from backbone_client.subscriber import platform_broker
from backbone_client.tokens import TokenVerifier
from practice_app.api import install_errors, router
from practice_app.consumers import subscribe
from practice_app.db import metadata
from practice_app.settings import CONSUMER, Settings


def create_app(settings: Settings, verifier: TokenVerifier) -> FastAPI:
    engine = create_async_engine(settings.database_url, pool_size=5)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    broker = platform_broker(settings.kafka, consumer=CONSUMER)
    subscribe(broker, sessions)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        platform = PlatformClient(settings.endpoints, service_key=settings.service_key)
        app.state.sessions, app.state.platform = sessions, platform
        await broker.start()
        try:
            yield
        finally:
            await broker.stop()
            await platform.aclose()
            await engine.dispose()

    app = FastAPI(title="practice-app", version="0.1.0", lifespan=lifespan)
    install_bearer_auth(app, verifier)
    install_errors(app)
    app.include_router(router)

    specification = AsyncAPI(broker, title="practice-app", version="0.1.0", schema_version="3.0.0")

    @app.get("/asyncapi.json", include_in_schema=False)
    async def asyncapi() -> JSONResponse:
        """What the app consumes, as FastStream describes its subscribers (AsyncAPI 3.0)."""
        return JSONResponse(json.loads(specification.to_specification().to_json()))

    @app.get("/readyz", include_in_schema=False)
    async def ready() -> JSONResponse:
        """Ready once the lifespan ran (tables, broker) and the database answers."""
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return JSONResponse({"status": "ready"})

    return app
