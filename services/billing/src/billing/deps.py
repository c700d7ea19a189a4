"""billing's dependency aliases."""

from typing import Annotated

from fastapi import Depends, Request

from billing.stripe_gateway import StripeGateway
from shared.auth import CurrentPrincipal, PrincipalOrService
from shared.http.deps import DbSession, ServiceKey


def _stripe(request: Request) -> StripeGateway:
    gateway: StripeGateway = request.app.state.stripe
    return gateway


Stripe = Annotated[StripeGateway, Depends(_stripe)]

__all__ = ["CurrentPrincipal", "DbSession", "PrincipalOrService", "ServiceKey", "Stripe"]
