"""Dependencies shared by every service's routes."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import InvalidServiceKey


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; the request's single commit point is here, before the response."""
    database = request.app.state.runtime.database
    async with database.unit_of_work() as session:
        yield session


# scope="function": commit (or roll back) before the response is sent, so a 2xx means committed.
DbSession = Annotated[AsyncSession, Depends(_request_session, scope="function")]


async def _plain_pool(request: Request) -> Any:
    return await request.app.state.runtime.plain_pool()


# A hot path that is one database call takes this instead of a session (shared/db/plain_pool.py).
PlainPool = Annotated[Any, Depends(_plain_pool)]


def key_matches(given: str | None, expected: str) -> bool:
    """True when a sent key equals the configured one, compared in constant time.

    Header values arrive decoded as latin-1, so they may hold any character: both sides are
    compared as UTF-8 bytes (a non-ASCII header is a wrong key, never a TypeError and a 500). An
    empty configured key matches nothing, so an empty header can never pass.
    """
    if given is None or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


def _key_dependency(field: str, variable: str, purpose: str) -> Any:
    """A dependency that admits only the `X-Service-Key` of one purpose (API.md: three keys)."""
    header = APIKeyHeader(
        name="X-Service-Key",
        scheme_name=variable,
        auto_error=False,
        description=f"`{variable}` ({purpose}); any other key is refused",
    )

    # The default-value form: the header scheme is a local, which a string annotation (this module
    # has `from __future__ import annotations`) could not name.
    async def require(request: Request, sent: str | None = Depends(header)) -> None:
        expected: str = getattr(request.app.state.runtime.settings, field)
        if not key_matches(sent, expected):
            raise InvalidServiceKey(f"a valid X-Service-Key ({variable}) is required")

    return Depends(require)


# Product backends: claims, entitlements, quotas, context.
ServiceKey = _key_dependency("service_key", "PLATFORM_SERVICE_KEY", "trusted product backends")
# `POST /v1/tokens` only.
TokenMintKey = _key_dependency("token_mint_key", "PLATFORM_TOKEN_MINT_KEY", "minting access tokens")
# Operator routes (`/v1/ops/*`), signing-key rotation, webhook rejection counts.
OperatorKey = _key_dependency("operator_key", "PLATFORM_OPERATOR_KEY", "operators")
