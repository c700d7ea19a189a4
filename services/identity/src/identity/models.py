"""identity's tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, LargeBinary
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from shared.db.tables import timestamp_column, utcnow


class User(SQLModel, table=True):
    """A user as the auth provider last told us (a tombstone once deleted)."""

    __tablename__ = "users"

    id: str = Field(primary_key=True)
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    image_url: str | None = None
    pending_invitation: str | None = None
    # The provider's own `updated_at` (ms): a stale delivery never overwrites newer data.
    provider_updated_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    deleted_at: datetime | None = Field(
        default=None, sa_column=timestamp_column(nullable=True, server_now=False)
    )


class AuthDelivery(SQLModel, table=True):
    """Every verified delivery from the auth provider, unique by its `svix-id`."""

    __tablename__ = "auth_deliveries"

    svix_id: str = Field(primary_key=True)
    event_type: str
    payload: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    received_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    # The W3C traceparent of the request that delivered it (shown by `devstack trace`).
    traceparent: str | None = None


class MembershipView(SQLModel, table=True):
    """Projection of workspace memberships, kept from `workspace.orgs` events."""

    __tablename__ = "membership_views"

    user_id: str = Field(primary_key=True)
    org_id: str = Field(primary_key=True)
    role: str
    is_personal_org: bool
    added_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class OrgPlanView(SQLModel, table=True):
    """Projection of each org's plan, kept from `billing.subscriptions` events."""

    __tablename__ = "org_plan_views"

    org_id: str = Field(primary_key=True)
    plan: str
    version: int = Field(sa_column=Column(BigInteger, nullable=False))


class UserClaims(SQLModel, table=True):
    """Which org a user's token speaks for; the rest of the claims is derived from projections."""

    __tablename__ = "user_claims"

    user_id: str = Field(primary_key=True)
    active_org_id: str
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class SigningKey(SQLModel, table=True):
    """A key identity signs access tokens with, from `activates_at` until `retired_at`.

    A rotation publishes the new key before it signs anything (`activates_at` in the future) and
    retires the old one at that same instant, so exactly one key signs at any time and every
    verifier can know the new key before the first token it signs arrives (docs/access.md).

    The private half is an encrypted PKCS#8 PEM (IDENTITY_SIGNING_KEY_PASSPHRASE); it is never
    served, logged or shown in a repr. The public half is kept as the JWK the JWKS lists.
    """

    __tablename__ = "signing_keys"

    kid: str = Field(primary_key=True)
    algorithm: str
    public_jwk: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    encrypted_private_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False), repr=False)
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    activates_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    retired_at: datetime | None = Field(
        default=None, sa_column=timestamp_column(nullable=True, server_now=False)
    )
