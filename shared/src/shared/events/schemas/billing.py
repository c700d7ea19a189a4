"""Payloads on `billing.subscriptions`."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from shared.events.envelope import EventData


class PlanLimits(BaseModel):
    model_config = ConfigDict(frozen=True)

    # None means unlimited.
    seats: int | None
    sessions_per_month: int | None
    scenarios: int | None
    ai_generation: bool


class SubscriptionChanged(EventData):
    event_type = "subscription.changed"

    org_id: str
    plan: str
    plan_kind: str
    status: str
    # Grows by one with every change of this org's subscription; consumers keep the highest.
    version: int
    limits: PlanLimits
    features: dict[str, bool]
    # Added later (defaults keep older payloads valid): when the current period (or trial) ends,
    # and whether the plan then ends (Stripe `cancel_at_period_end`, a Skool cancellation).
    current_period_end: datetime | None = None
    cancel_at_period_end: bool = False
