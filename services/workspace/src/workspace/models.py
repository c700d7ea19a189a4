"""workspace's tables."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy import BigInteger, Column
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
    # Who created it (the owner for a personal org, the first admin for a team org).
    created_by: str | None = None
    # The last time a member used it (see docs/workspaces.md, "Activity"); the archiving job reads it.
    last_active_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    # Why it was archived: "inactive", "owner_deleted" or "no_members"; None while active.
    archive_reason: str | None = None

    @property
    def status(self) -> Literal["active", "archived"]:
        return "archived" if self.archived_at is not None else "active"


class Membership(SQLModel, table=True):
    """A user's role in an org."""

    __tablename__ = "memberships"

    org_id: uuid.UUID = Field(primary_key=True, foreign_key="orgs.id")
    user_id: str = Field(primary_key=True, index=True)
    role: str
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class MemberProfile(SQLModel, table=True):
    """What workspace knows of a user, projected from `identity.users` (not tenant data)."""

    __tablename__ = "member_profiles"

    id: str = Field(primary_key=True)
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    # The auth provider verified the primary address: only then may it bind an email invitation
    # or a Skool entitlement.
    email_verified: bool = False
    # Why the signup got a personal workspace though its address matched an invitation or an
    # entitlement (unverified address); shown by `devstack trace`.
    signup_note: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    deleted_at: datetime | None = Field(
        default=None, sa_column=timestamp_column(nullable=True, server_now=False)
    )


class OrgPlan(SQLModel, table=True):
    """An org's plan, limits and features, projected from billing's `subscription.changed`."""

    __tablename__ = "org_plans"

    org_id: uuid.UUID = Field(primary_key=True)
    plan: str
    plan_kind: str
    status: str
    # billing's per-org version: only a higher one replaces what is here.
    version: int = Field(sa_column=Column(BigInteger, nullable=False))
    limits: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    features: dict[str, bool] = Field(sa_column=Column(JSONB, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class Conversion(SQLModel, table=True):
    """The answer given to one `Idempotency-Key` of a personal-to-team conversion."""

    __tablename__ = "conversions"

    org_id: uuid.UUID = Field(primary_key=True, foreign_key="orgs.id")
    idempotency_key: str = Field(primary_key=True)
    user_id: str
    response: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
