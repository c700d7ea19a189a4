"""Payloads on `workspace.orgs`."""

from __future__ import annotations

from shared.events.envelope import EventData


class OrgCreated(EventData):
    event_type = "org.created"

    org_id: str
    name: str
    slug: str
    is_personal: bool
    owner_user_id: str
    # The plan the org starts on; billing owns the catalog and checks it.
    initial_plan: str


class MembershipAdded(EventData):
    event_type = "membership.added"

    org_id: str
    user_id: str
    role: str
    is_personal_org: bool
