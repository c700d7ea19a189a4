"""Payloads on `identity.users`.

`email_verified` (user.created, user.updated): the auth provider verified the primary address
(Clerk `verification.status == "verified"`). Only a verified address binds a signup to an email
invitation or a Skool entitlement. An event without the field (published before it existed) reads
as unverified: fail closed (docs/workspaces.md, "Email ownership at signup").
"""

from __future__ import annotations

from shared.events.envelope import EventData


class UserCreated(EventData):
    event_type = "user.created"

    user_id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    image_url: str | None = None
    email_verified: bool = False
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
    email_verified: bool = False


class UserDeleted(EventData):
    event_type = "user.deleted"

    user_id: str
