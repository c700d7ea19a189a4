"""Payloads on `skool.subscriptions` (keyed by the member's normalised email).

A Skool community member subscribed or cancelled (API.md, skool-ingest). `org_id` names the
business team org the entitlement belongs to when the publisher knows it; billing moves that org
(a new Skool org already starts on `business` through `org.created`'s `provisioned_for`).
Among events about one member and community, the newest `occurred_at` wins.
"""

from __future__ import annotations

from datetime import datetime

from shared.events.envelope import EventData


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
    """The org returns to the free team plan at `period_end` (at once when absent)."""

    event_type = "skool.cancelled"

    email: str
    community_id: str
    occurred_at: datetime
    period_end: datetime | None = None
    org_id: str | None = None
    skool_member_id: str | None = None
