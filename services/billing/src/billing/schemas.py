"""billing's request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from billing.catalog import Plan
from shared.events.schemas.billing import PlanLimits

# One call may count at most this many practice sessions (API.md: `quantity` 1 to 10), so one call
# cannot burn a team's month.
MAX_SESSIONS_PER_USE = 10


class SubscriptionRead(BaseModel):
    org_id: str
    plan: str
    status: str
    version: int
    limits: PlanLimits
    features: dict[str, bool]


class PlanRead(BaseModel):
    """A plan as a pricing page shows it (API.md's Plan). Limits of `null` are unlimited."""

    id: str
    name: str
    kind: Literal["personal", "team"]
    seats: int | None
    sessions_per_month: int | None
    scenarios: int | None
    features: dict[str, bool]
    prices: dict[str, int | None]
    per_seat: bool
    purchasable: bool
    stripe_prices: dict[str, str | None]

    @classmethod
    def of(cls, plan: Plan) -> PlanRead:
        return cls(
            id=plan.code,
            name=plan.name,
            kind=plan.kind,
            seats=plan.limits.seats,
            sessions_per_month=plan.limits.sessions_per_month,
            scenarios=plan.limits.scenarios,
            features=plan.features,
            prices=plan.prices,
            per_seat=plan.per_seat,
            purchasable=plan.purchasable,
            stripe_prices=plan.stripe_prices,
        )


class PlansRead(BaseModel):
    individual: list[PlanRead]
    team: list[PlanRead]


class Limits(BaseModel):
    seats: int | None
    sessions_per_month: int | None
    scenarios: int | None


class Usage(BaseModel):
    seats: int
    sessions: int
    scenarios: int


class Entitlements(BaseModel):
    org_id: str
    plan: str
    kind: str
    status: str
    current_period_end: datetime | None
    cancel_at_period_end: bool
    features: dict[str, bool]
    limits: Limits
    usage: Usage
    sessions_reset_at: datetime


class ConsumeRequest(BaseModel):
    quantity: int = Field(default=1, ge=1, le=MAX_SESSIONS_PER_USE)
    idempotency_key: str = Field(min_length=1, max_length=200)


class ReserveRequest(BaseModel):
    idempotency_key: str = Field(min_length=1, max_length=200)


class GaugeRead(BaseModel):
    used: int
    limit: int | None
    remaining: int | None


class ConsumeRead(GaugeRead):
    resets_at: datetime


class CheckoutRequest(BaseModel):
    plan: str = Field(min_length=1)
    interval: Literal["month", "year"]


class CheckoutRead(BaseModel):
    url: str
    session_id: str


class PortalRead(BaseModel):
    url: str


class StripeEventData(BaseModel):
    object: dict[str, Any]


class StripeEvent(BaseModel):
    """The documented format of a Stripe event (only what billing reads; Stripe sends more)."""

    id: str
    type: str
    created: int = Field(ge=0, lt=2**63)
    data: StripeEventData


class WebhookRead(BaseModel):
    status: Literal["processed", "duplicate", "ignored"]
