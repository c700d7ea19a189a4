"""billing's dependency aliases."""

from typing import Annotated

from fastapi import Depends, Request

from billing.stripe_gateway import StripeGateway
from shared.auth import CurrentPrincipal, PrincipalOrService
from shared.http.deps import DbSession, PlainPool, ServiceKey


async def _stripe(request: Request) -> StripeGateway:
    """Async on purpose: FastAPI runs a plain `def` dependency in a worker thread."""
    gateway: StripeGateway = request.app.state.stripe
    return gateway


Stripe = Annotated[StripeGateway, Depends(_stripe)]

__all__ = ["CurrentPrincipal", "DbSession", "PlainPool", "PrincipalOrService", "ServiceKey", "Stripe"]
