"""billing's composition root."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from billing import api
from billing.handlers import SUBSCRIPTIONS
from billing.settings import BillingSettings
from shared.runtime import ServiceRuntime


def create_app(settings: BillingSettings | None = None) -> FastAPI:
    runtime = ServiceRuntime(
        settings=settings or BillingSettings(),
        migrations=Path(__file__).parent / "migrations",
        subscriptions=SUBSCRIPTIONS,
    )
    return runtime.build_app(title="billing", routers=[api.router])
