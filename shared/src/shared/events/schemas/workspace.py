"""Payloads on `workspace.orgs` (keyed by org id, so one org's events stay in order)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from shared.events.envelope import EventData

OrgKind = Literal["personal", "team"]


class OrgCreated(EventData):
    event_type = "org.created"

    org_id: str
    name: str
    slug: str
    is_personal: bool
    # "personal" or "team"; the same fact as `is_personal`, named as billing and invites use it.
    kind: OrgKind = "personal"
    owner_user_id: str
    # Who created it: the user themself for a personal org, the creating admin for a team org.
    created_by: str | None = None
    # The plan the org starts on; billing owns the catalog and checks it.
    initial_plan: str
    # Why the org exists beyond a user's own choice: None, or "skool" (a Skool entitlement), so
    # billing starts it on `business`.
    provisioned_for: str | None = None


class OrgConverted(EventData):
    """A personal org became a team org: same id and data, the owner now its admin."""

    event_type = "org.converted"

    org_id: str
    name: str
    slug: str
    owner_user_id: str
    # The team plan chosen at conversion (billing moves the org to it).
    plan: str


class OrgArchived(EventData):
    event_type = "org.archived"

    org_id: str
    reason: str


class OrgRestored(EventData):
    """An archived org is in use again (its data was never deleted)."""

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
    # "removed" (by an admin), "left" (by themself) or "user_deleted".
    reason: str


class MembershipRoleChanged(EventData):
    event_type = "membership.role_changed"

    org_id: str
    user_id: str
    role: str
    previous_role: str


class OrgEntitlementGranted(EventData):
    """An outside entitlement (a Skool membership) pays for this org: billing puts it on the
    entitlement's plan (`business` for Skool). Among one org's entitlement events of one source,
    the newest `occurred_at` wins."""

    event_type = "org.entitlement_granted"

    org_id: str
    # Who grants it: "skool".
    source: str = "skool"
    occurred_at: datetime
    # Paid until (renewals move it); None when the provider does not say.
    period_end: datetime | None = None


class OrgEntitlementEnded(EventData):
    """The entitlement ends: the org returns to the free team plan at `period_end` (at once when
    absent or past); members and data stay."""

    event_type = "org.entitlement_ended"

    org_id: str
    source: str = "skool"
    occurred_at: datetime
    period_end: datetime | None = None
