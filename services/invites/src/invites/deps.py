"""invites's dependency aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from invites.settings import InvitesSettings
from invites.throttles import Throttles
from shared.auth import CurrentPrincipal
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
    throttles = throttles_of(request)
    throttles.per_client.hit(request_client_key(request, throttles.proxies))


async def _limit_redeem(request: Request, principal: CurrentPrincipal) -> None:
    await _limit_per_client(request)
    throttles_of(request).redeem_per_user.hit(principal.user_id)


# The public (unauthenticated) link routes: per client.
PublicRateLimit = Depends(_limit_per_client)
# Redeeming a slug or a legacy code: per client and per user.
RedeemRateLimit = Depends(_limit_redeem)
InvitesThrottles = Annotated[Throttles, Depends(throttles_of)]

__all__ = ["DbSession", "InvitesThrottles", "PublicRateLimit", "RedeemRateLimit", "ServiceKey", "settings_of"]
