"""identity's dependency aliases."""

from typing import Annotated

from fastapi import Depends, Request

from identity.settings import IdentitySettings
from shared.http.deps import DbSession, ServiceKey


def _settings(request: Request) -> IdentitySettings:
    settings: IdentitySettings = request.app.state.runtime.settings
    return settings


Settings = Annotated[IdentitySettings, Depends(_settings)]

__all__ = ["DbSession", "ServiceKey", "Settings"]
