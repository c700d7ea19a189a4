"""billing's dependency aliases."""

from typing import Annotated

from fastapi import Depends, Request

from billing.stripe_gateway import StripeGateway
from shared.auth import CurrentPrincipal, PrincipalOrService
from shared.http.deps import DbSession, PlainPool, ServiceKey
from shared.http.ratelimit import RateLimiter


async def _stripe(request: Request) -> StripeGateway:
    """Async on purpose: FastAPI runs a plain `def` dependency in a worker thread."""
    gateway: StripeGateway = request.app.state.stripe
    return gateway


Stripe = Annotated[StripeGateway, Depends(_stripe)]


async def _stripe_sessions_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.stripe_sessions_limiter
    return limiter


# Checkout and portal sessions per org (BILLING_STRIPE_SESSIONS_PER_ORG_PER_MINUTE).
StripeSessionsLimiter = Annotated[RateLimiter, Depends(_stripe_sessions_limiter)]

__all__ = [
    "CurrentPrincipal",
    "DbSession",
    "PlainPool",
    "PrincipalOrService",
    "ServiceKey",
    "Stripe",
    "StripeSessionsLimiter",
]
