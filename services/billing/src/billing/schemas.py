"""billing's request and response models."""

from __future__ import annotations

from pydantic import BaseModel

from shared.events.schemas.billing import PlanLimits


class SubscriptionRead(BaseModel):
    org_id: str
    plan: str
    status: str
    version: int
    limits: PlanLimits
    features: dict[str, bool]
