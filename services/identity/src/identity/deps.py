"""identity's dependency aliases."""

from typing import Annotated

from fastapi import Depends, Request

from identity.service.deliveries import Delivery, process_deliveries
from identity.service.tokens import TokenPolicy
from identity.settings import IdentitySettings
from shared.db.group_commit import GroupCommit
from shared.http.deps import DbSession, OperatorKey, PlainPool, ServiceKey, TokenMintKey


async def _settings(request: Request) -> IdentitySettings:
    """Async on purpose: FastAPI runs a plain `def` dependency in a worker thread."""
    settings: IdentitySettings = request.app.state.runtime.settings
    return settings


Settings = Annotated[IdentitySettings, Depends(_settings)]


async def _deliveries(request: Request) -> GroupCommit[Delivery, str]:
    """Where webhook deliveries go: stored and applied in group commits (see shared.db.group_commit)."""
    return request.app.state.runtime.group_commit("auth-deliveries", process_deliveries)  # type: ignore[no-any-return]


Deliveries = Annotated[GroupCommit[Delivery, str], Depends(_deliveries)]


async def _token_policy(settings: Settings) -> TokenPolicy:
    return TokenPolicy(
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        ttl_seconds=settings.token_ttl_seconds,
        passphrase=settings.signing_key_passphrase,
    )


Policy = Annotated[TokenPolicy, Depends(_token_policy)]

__all__ = [
    "DbSession",
    "Deliveries",
    "OperatorKey",
    "PlainPool",
    "Policy",
    "ServiceKey",
    "Settings",
    "TokenMintKey",
]
