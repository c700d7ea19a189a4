"""The platform's HTTP answers as typed models (API.md). Unknown fields are ignored, so a newer
platform that adds a field does not break an older client."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Claims(_Answer):
    """`GET /v1/users/{user_id}/claims` (org fields are None until the user is provisioned)."""

    user_id: str
    org_id: str | None = None
    org_role: str | None = None
    is_personal_org: bool | None = None
    plan: str | None = None


class MintedToken(_Answer):
    """`POST /v1/tokens`."""

    access_token: str
    token_type: str
    expires_in: int
    claims: Claims


class Limits(_Answer):
    seats: int | None
    sessions_per_month: int | None
    scenarios: int | None


class Usage(_Answer):
    seats: int
    sessions: int
    scenarios: int


class Entitlements(_Answer):
    """`GET /v1/orgs/{org_id}/entitlements`."""

    org_id: str
    plan: str
    kind: str
    status: str
    current_period_end: datetime | None = None
    cancel_at_period_end: bool = False
    features: dict[str, bool]
    limits: Limits
    usage: Usage
    sessions_reset_at: datetime | None = None


class QuotaUse(_Answer):
    """`POST .../meters/sessions/consume` (with `resets_at`) and `.../scenarios/reserve|release`:
    the meter after this use. `limit`/`remaining` are None when unlimited."""

    used: int
    limit: int | None
    remaining: int | None
    resets_at: datetime | None = None


class OrgSummary(_Answer):
    id: str
    name: str
    slug: str
    is_personal: bool
    plan: str
    status: str


class NavigationItem(_Answer):
    title: str
    url: str


class Context(_Answer):
    """`GET /v1/me/context` (asked with the user's bearer token)."""

    user_id: str
    org: OrgSummary
    role: str
    is_personal: bool
    plan: str
    features: dict[str, bool]
    limits: Limits
    navigation: list[NavigationItem]
    show_switcher: bool
