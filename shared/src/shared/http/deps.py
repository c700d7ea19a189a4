"""Dependencies shared by every service's routes."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Header, Request
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


async def _require_service_key(
    request: Request, x_service_key: Annotated[str | None, Header()] = None
) -> None:
    expected: str = request.app.state.runtime.settings.service_key
    if x_service_key is None or not hmac.compare_digest(x_service_key, expected):
        raise InvalidServiceKey("a valid X-Service-Key header is required")


ServiceKey = Depends(_require_service_key)
