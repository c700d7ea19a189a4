"""identity's composition root."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from identity import api
from identity.handlers import SUBSCRIPTIONS
from identity.settings import IdentitySettings
from shared.runtime import ServiceRuntime


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    runtime = ServiceRuntime(
        settings=settings or IdentitySettings(),
        migrations=Path(__file__).parent / "migrations",
        subscriptions=SUBSCRIPTIONS,
    )
    return runtime.build_app(title="identity", routers=[api.router])
