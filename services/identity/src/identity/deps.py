"""identity's dependency aliases."""

from typing import Annotated

from fastapi import Depends, Request

from identity.service.tokens import TokenPolicy
from identity.settings import IdentitySettings
from shared.http.deps import DbSession, ServiceKey


async def _settings(request: Request) -> IdentitySettings:
    """Async on purpose: FastAPI runs a plain `def` dependency in a worker thread."""
    settings: IdentitySettings = request.app.state.runtime.settings
    return settings


Settings = Annotated[IdentitySettings, Depends(_settings)]


async def _token_policy(settings: Settings) -> TokenPolicy:
    return TokenPolicy(
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        ttl_seconds=settings.token_ttl_seconds,
        passphrase=settings.signing_key_passphrase,
    )


Policy = Annotated[TokenPolicy, Depends(_token_policy)]

__all__ = ["DbSession", "Policy", "ServiceKey", "Settings"]
