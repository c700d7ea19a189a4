"""skool_ingest's composition root."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from shared.runtime import ServiceRuntime
from skool_ingest import api
from skool_ingest.handlers import SUBSCRIPTIONS
from skool_ingest.settings import SkoolIngestSettings


def create_app(settings: SkoolIngestSettings | None = None) -> FastAPI:
    runtime = ServiceRuntime(
        settings=settings or SkoolIngestSettings(),
        migrations=Path(__file__).parent / "migrations",
        subscriptions=SUBSCRIPTIONS,
    )
    return runtime.build_app(title="skool_ingest", routers=[api.router])
