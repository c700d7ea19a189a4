"""Payloads on `identity.users`."""

from __future__ import annotations

from shared.events.envelope import EventData


class UserCreated(EventData):
    event_type = "user.created"

    user_id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    image_url: str | None = None
    # Invitation-link slug from the auth provider's public metadata, if the user signed up
    # through one.
    pending_invitation: str | None = None


class UserUpdated(EventData):
    event_type = "user.updated"

    user_id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    image_url: str | None = None


class UserDeleted(EventData):
    event_type = "user.deleted"

    user_id: str
