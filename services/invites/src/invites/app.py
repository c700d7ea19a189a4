"""invites's composition root."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from invites import api
from invites.handlers import SUBSCRIPTIONS
from invites.settings import InvitesSettings
from shared.runtime import ServiceRuntime


def create_app(settings: InvitesSettings | None = None) -> FastAPI:
    runtime = ServiceRuntime(
        settings=settings or InvitesSettings(),
        migrations=Path(__file__).parent / "migrations",
        subscriptions=SUBSCRIPTIONS,
    )
    return runtime.build_app(title="invites", routers=[api.router])
