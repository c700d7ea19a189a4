"""workspace's composition root."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from shared.runtime import ServiceRuntime
from workspace import api
from workspace.handlers import SUBSCRIPTIONS
from workspace.settings import WorkspaceSettings


def create_app(settings: WorkspaceSettings | None = None) -> FastAPI:
    runtime = ServiceRuntime(
        settings=settings or WorkspaceSettings(),
        migrations=Path(__file__).parent / "migrations",
        subscriptions=SUBSCRIPTIONS,
    )
    return runtime.build_app(title="workspace", routers=[api.router])
