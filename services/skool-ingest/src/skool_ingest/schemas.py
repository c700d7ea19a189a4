"""skool_ingest's request and response models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.http.email import StrictEmail

SUBSCRIBED = "member.subscribed"
CANCELLED = "member.cancelled"
KNOWN_EVENTS = (SUBSCRIBED, CANCELLED)


def normalize_email(email: str) -> str:
    """As the rest of the platform compares addresses: trimmed, lower case."""
    return email.strip().lower()


def _utc(value: datetime | None) -> datetime | None:
    """A timestamp without an offset is taken as UTC. One whose offset moves it past what a datetime
    holds (`0001-01-01T00:00:00+01:00`) is invalid input (a ValueError: 422), not an OverflowError."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as error:
        raise ValueError("the time is out of range in UTC") from error


class SkoolDelivery(BaseModel):
    """One delivery from the Skool automation (API.md, skool-ingest)."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    event: Literal["member.subscribed", "member.cancelled"]
    event_id: str | None = Field(default=None, min_length=1, max_length=200)
    # One bare addr-spec (a display-name form is 422): it goes into the welcome email's `To` header.
    email: StrictEmail
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    skool_member_id: str | None = Field(default=None, max_length=200)
    community_id: str = Field(min_length=1, max_length=200)
    community_name: str | None = Field(default=None, max_length=500)
    occurred_at: datetime
    period_end: datetime | None = None

    @field_validator(
        "event_id", "email", "first_name", "last_name", "skool_member_id", "community_id", "community_name"
    )
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        # PostgreSQL text cannot hold NUL: refuse it here (422), not at the insert (500).
        if value is not None and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value

    @field_validator("email")
    @classmethod
    def _normalized(cls, email: str) -> str:
        return normalize_email(email)

    @field_validator("occurred_at", "period_end")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        return _utc(value)

    @property
    def natural_key(self) -> str:
        """Identifies a delivery without `event_id`: (normalized email, community, event, occurred_at)."""
        return "\x1f".join((self.email, self.community_id, self.event, self.occurred_at.isoformat()))


class WebhookReceipt(BaseModel):
    status: Literal["accepted", "duplicate"]


class RejectionCounts(BaseModel):
    """Deliveries refused since the service's database was created, by reason (none is stored)."""

    rejections: dict[str, int]
