"""invites's dependency aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from invites.settings import InvitesSettings
from invites.throttles import Throttles
from shared.http.deps import DbSession, ServiceKey
from shared.http.ratelimit import request_client_key


def settings_of(request: Request) -> InvitesSettings:
    settings: InvitesSettings = request.app.state.runtime.settings
    return settings


def throttles_of(request: Request) -> Throttles:
    throttles: Throttles = request.app.state.throttles
    return throttles


async def _limit_per_client(request: Request) -> None:
    """Async on purpose: on the event loop, never in a worker thread beside another request."""
    throttles_of(request).per_client.hit(client_key_of(request))


def client_key_of(request: Request) -> str:
    """The rate-limit key of the request's client (an IPv4 address or an IPv6 /64)."""
    return request_client_key(request, throttles_of(request).proxies)


# The public (unauthenticated) link routes: per client.
PublicRateLimit = Depends(_limit_per_client)
InvitesThrottles = Annotated[Throttles, Depends(throttles_of)]

__all__ = ["DbSession", "InvitesThrottles", "PublicRateLimit", "ServiceKey", "client_key_of", "settings_of"]
