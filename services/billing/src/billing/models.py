"""billing's tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel

from shared.db.tables import timestamp_column, utcnow


class Subscription(SQLModel, table=True):
    """An org's current plan; `version` grows with every change and orders the events."""

    __tablename__ = "subscriptions"

    org_id: str = Field(primary_key=True)
    plan: str
    # active, trialing, past_due, canceled (Stripe's words; free plans are `active`).
    status: str
    version: int = Field(sa_column=Column(BigInteger, nullable=False))
    is_personal: bool
    current_period_end: datetime | None = Field(
        default=None, sa_column=timestamp_column(nullable=True, server_now=False)
    )
    cancel_at_period_end: bool = False
    stripe_customer_id: str | None = None
    stripe_subscription_id: str | None = None
    # The plan the Stripe subscription is for (kept while past-due limits fall back to free).
    stripe_plan: str | None = None
    # `created` of the newest Stripe subscription event applied: an older one changes nothing.
    stripe_event_created: int | None = Field(default=None, sa_column=Column(BigInteger))
    past_due_since: datetime | None = Field(
        default=None, sa_column=timestamp_column(nullable=True, server_now=False)
    )
    # `occurred_at` of the newest Skool event applied: an older one changes nothing.
    skool_occurred_at: datetime | None = Field(
        default=None, sa_column=timestamp_column(nullable=True, server_now=False)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())

    @property
    def kind(self) -> str:
        return "personal" if self.is_personal else "team"
