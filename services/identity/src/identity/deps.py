"""identity's dependency aliases."""

from typing import Annotated

from fastapi import Depends, Request

from identity.settings import IdentitySettings
from shared.http.deps import DbSession, ServiceKey


async def _settings(request: Request) -> IdentitySettings:
    """Async on purpose: FastAPI runs a plain `def` dependency in a worker thread."""
    settings: IdentitySettings = request.app.state.runtime.settings
    return settings


Settings = Annotated[IdentitySettings, Depends(_settings)]

__all__ = ["DbSession", "ServiceKey", "Settings"]
