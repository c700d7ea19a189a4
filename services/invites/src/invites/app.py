"""invites's composition root."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from invites import api, invitations_api, public
from invites.handlers import SUBSCRIPTIONS
from invites.service.timeline import timeline_findings
from invites.settings import InvitesSettings
from invites.throttles import Throttles
from shared.runtime import ServiceRuntime


def create_app(settings: InvitesSettings | None = None) -> FastAPI:
    settings = settings or InvitesSettings()
    runtime = ServiceRuntime(
        settings=settings,
        migrations=Path(__file__).parent / "migrations",
        subscriptions=SUBSCRIPTIONS,
    )
    app = runtime.build_app(
        title="invites",
        routers=[api.router, invitations_api.router, public.router],
        timeline_hook=timeline_findings,
    )
    app.state.throttles = Throttles.from_settings(settings)
    return app
