"""invites's dependency aliases."""

from __future__ import annotations

from fastapi import Depends, Request

from invites.ratelimit import RateLimiter
from invites.settings import InvitesSettings
from shared.http.deps import DbSession, ServiceKey


def settings_of(request: Request) -> InvitesSettings:
    settings: InvitesSettings = request.app.state.runtime.settings
    return settings


def _limit_public(request: Request) -> None:
    limiter: RateLimiter = request.app.state.public_rate_limiter
    limiter.hit(request.client.host if request.client else "unknown")


# On the public (unauthenticated) link routes.
PublicRateLimit = Depends(_limit_public)

__all__ = ["DbSession", "PublicRateLimit", "ServiceKey", "settings_of"]
