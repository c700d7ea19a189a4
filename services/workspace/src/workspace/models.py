"""workspace's tables."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from shared.db.tables import timestamp_column, utcnow


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    HR = "hr"
    TRAINEE = "trainee"
    TECH = "tech"
    CLIENT = "client"


class Org(SQLModel, table=True):
    """A workspace: personal (one owner, individual plans) or a team."""

    __tablename__ = "orgs"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str
    slug: str = Field(unique=True)
    is_personal: bool
    # Unique: one personal org per user, whatever the delivery count.
    personal_user_id: str | None = Field(default=None, unique=True)
    settings: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    archived_at: datetime | None = Field(
        default=None, sa_column=timestamp_column(nullable=True, server_now=False)
    )


class Membership(SQLModel, table=True):
    """A user's role in an org."""

    __tablename__ = "memberships"

    org_id: uuid.UUID = Field(primary_key=True, foreign_key="orgs.id")
    user_id: str = Field(primary_key=True, index=True)
    role: str
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
