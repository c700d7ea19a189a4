"""The payload (`data`) of every event type the platform publishes, one pydantic model each.

These mirror the platform's own schemas field for field; the platform's test suite
(tests/test_client_events.py) compares their JSON schemas with the services' and fails on any
drift, so a field the platform adds or changes cannot go unnoticed here. Unknown fields are
ignored (a newer platform may add optional fields before the kit learns them).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict


class EventData(BaseModel):
    """A versioned payload schema; subclasses name their event `type` and schema `version`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1


# --- identity.users -----------------------------------------------------------------------------


class UserCreated(EventData):
    event_type = "user.created"

    user_id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    image_url: str | None = None
    email_verified: bool = False
    pending_invitation: str | None = None


class UserUpdated(EventData):
    event_type = "user.updated"

    user_id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    image_url: str | None = None
    email_verified: bool = False


class UserDeleted(EventData):
    event_type = "user.deleted"

    user_id: str


# --- workspace.orgs -----------------------------------------------------------------------------

OrgKind = Literal["personal", "team"]


class OrgCreated(EventData):
    event_type = "org.created"

    org_id: str
    name: str
    slug: str
    is_personal: bool
    kind: OrgKind = "personal"
    owner_user_id: str
    created_by: str | None = None
    initial_plan: str
    provisioned_for: str | None = None


class OrgConverted(EventData):
    event_type = "org.converted"

    org_id: str
    name: str
    slug: str
    owner_user_id: str
    plan: str


class OrgArchived(EventData):
    event_type = "org.archived"

    org_id: str
    reason: str


class OrgRestored(EventData):
    event_type = "org.restored"

    org_id: str


class MembershipAdded(EventData):
    event_type = "membership.added"

    org_id: str
    user_id: str
    role: str
    is_personal_org: bool


class MembershipRemoved(EventData):
    event_type = "membership.removed"

    org_id: str
    user_id: str
    reason: str


class MembershipRoleChanged(EventData):
    event_type = "membership.role_changed"

    org_id: str
    user_id: str
    role: str
    previous_role: str


class OrgEntitlementGranted(EventData):
    event_type = "org.entitlement_granted"

    org_id: str
    source: str = "skool"
    occurred_at: datetime
    period_end: datetime | None = None


class OrgEntitlementEnded(EventData):
    event_type = "org.entitlement_ended"

    org_id: str
    source: str = "skool"
    occurred_at: datetime
    period_end: datetime | None = None


# --- billing.subscriptions ----------------------------------------------------------------------


class PlanLimits(BaseModel):
    model_config = ConfigDict(frozen=True)

    # None means unlimited.
    seats: int | None
    sessions_per_month: int | None
    scenarios: int | None
    ai_generation: bool


class SubscriptionChanged(EventData):
    """An org's plan, status, limits or features changed. `version` grows by one with every
    change of the org's subscription: keep the highest you applied and ignore lower ones (a
    replay, or a redelivery after a newer event)."""

    event_type = "subscription.changed"

    org_id: str
    plan: str
    plan_kind: str
    status: str
    version: int
    limits: PlanLimits
    features: dict[str, bool]
    current_period_end: datetime | None = None
    cancel_at_period_end: bool = False


# --- invites.invitations ------------------------------------------------------------------------

InvitationKind = Literal["link", "email"]


class InvitationCreated(EventData):
    event_type = "invitation.created"

    invitation_id: str
    kind: InvitationKind
    org_id: str
    role: str
    expires_at: datetime
    created_by: str
    email: str | None = None
    for_existing_user: bool = False


class InvitationAccepted(EventData):
    event_type = "invitation.accepted"

    invitation_id: str
    kind: InvitationKind
    org_id: str
    user_id: str
    role: str
    at_signup: bool = False


class InvitationRevoked(EventData):
    event_type = "invitation.revoked"

    invitation_id: str
    kind: InvitationKind
    org_id: str


class InvitationRedemptionFailed(EventData):
    event_type = "invitation.redemption_failed"

    user_id: str
    reason: str
    invitation: str | None = None


# --- skool.subscriptions ------------------------------------------------------------------------


class SkoolSubscribed(EventData):
    event_type = "skool.subscribed"

    email: str
    community_id: str
    occurred_at: datetime
    period_end: datetime | None = None
    org_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    skool_member_id: str | None = None
    community_name: str | None = None


class SkoolCancelled(EventData):
    event_type = "skool.cancelled"

    email: str
    community_id: str
    occurred_at: datetime
    period_end: datetime | None = None
    org_id: str | None = None
    skool_member_id: str | None = None


PAYLOADS: dict[str, type[EventData]] = {
    model.event_type: model
    for model in (
        UserCreated,
        UserUpdated,
        UserDeleted,
        OrgCreated,
        OrgConverted,
        OrgArchived,
        OrgRestored,
        MembershipAdded,
        MembershipRemoved,
        MembershipRoleChanged,
        OrgEntitlementGranted,
        OrgEntitlementEnded,
        SubscriptionChanged,
        InvitationCreated,
        InvitationAccepted,
        InvitationRevoked,
        InvitationRedemptionFailed,
        SkoolSubscribed,
        SkoolCancelled,
    )
}
"""Every event type's payload model, by event type."""
