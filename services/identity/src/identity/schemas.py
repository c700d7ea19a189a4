"""identity's request and response models, including the auth provider's (Clerk's) payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ClerkEmailAddress(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    email_address: str
    # Clerk's proof of the address (`{"status": "verified", "strategy": ...}`, or null). Read
    # leniently: any other shape means "not verified", never a refused delivery.
    verification: Any = None

    @property
    def verified(self) -> bool:
        return isinstance(self.verification, dict) and self.verification.get("status") == "verified"


class ClerkUser(BaseModel):
    """The `data` of a Clerk `user.created` / `user.updated` delivery."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    email_addresses: list[ClerkEmailAddress] = []
    primary_email_address_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    image_url: str | None = None
    public_metadata: dict[str, Any] = {}
    # Milliseconds, stored as a bigint: anything past its range is a malformed delivery (400).
    updated_at: int = Field(default=0, ge=-(2**63), le=2**63 - 1)

    @property
    def primary_email(self) -> str | None:
        for address in self.email_addresses:
            if address.id == self.primary_email_address_id:
                return address.email_address.lower()
        return self.email_addresses[0].email_address.lower() if self.email_addresses else None

    @property
    def primary_email_verified(self) -> bool:
        """Whether the primary address (the one `primary_email_address_id` names; never a
        fallback) is verified: only then may the address bind an invitation or an entitlement."""
        return any(
            address.id == self.primary_email_address_id and address.verified
            for address in self.email_addresses
        )

    @property
    def pending_invitation(self) -> str | None:
        slug = self.public_metadata.get("pending_invitation")
        return slug if isinstance(slug, str) and slug else None


class ClerkDeletedUser(BaseModel):
    """The `data` of a Clerk `user.deleted` delivery."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    deleted: bool = True


class ClerkEvent(BaseModel):
    """The outer shape of every Clerk webhook delivery."""

    model_config = ConfigDict(extra="ignore")

    type: str = Field(min_length=1)
    data: dict[str, Any]
    timestamp: int | None = None


class ClerkUserDelivery(BaseModel):
    """The documented format of the deliveries identity acts on (other types are answered
    `ignored`); for `user.deleted`, `data` needs only the `id`."""

    type: Literal["user.created", "user.updated", "user.deleted"]
    data: ClerkUser
    timestamp: int | None = None


class WebhookReceipt(BaseModel):
    status: str  # "processed", "duplicate" or "ignored"
    delivery_id: str


class ClaimsRead(BaseModel):
    user_id: str
    org_id: str | None
    org_role: str | None
    is_personal_org: bool | None
    plan: str | None


class TokenRequest(BaseModel):
    """`POST /v1/tokens`: a token for this user, for `org_id` or (absent) their active org."""

    user_id: str = Field(min_length=1, max_length=255)
    org_id: str | None = Field(default=None, min_length=1, max_length=255)


class TokenRead(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    claims: ClaimsRead


class Jwks(BaseModel):
    """The public keys tokens are verified with (RFC 7517 JWK Set)."""

    keys: list[dict[str, Any]]


class KeyRotated(BaseModel):
    """A rotation: `kid` is published now and signs from `activates_at`, when `retired_kid` stops."""

    kid: str
    retired_kid: str | None
    activates_at: datetime
