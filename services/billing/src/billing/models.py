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
    status: str
    version: int = Field(sa_column=Column(BigInteger, nullable=False))
    is_personal: bool
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
