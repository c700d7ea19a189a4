"""Payloads on `invites.invitations` (see docs/invitations.md for keys and ordering).

Keys: `invitation.accepted` and `invitation.redemption_failed` are keyed by the **user id**, so a
user's verdicts stay in order (workspace decides a new user's workspace from them);
`invitation.created` and `invitation.revoked` are keyed by the **org id**.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from shared.events.envelope import EventData

InvitationKind = Literal["link", "email"]


class InvitationCreated(EventData):
    event_type = "invitation.created"

    invitation_id: str
    kind: InvitationKind
    org_id: str
    role: str
    expires_at: datetime
    created_by: str
    # Email invitations only: the normalized address the invitation is bound to.
    email: str | None = None
    # Email invitations only: the address already had an account when it was invited (so no
    # signup will wait for this invitation; the user accepts it with POST .../accept).
    for_existing_user: bool = False


class InvitationAccepted(EventData):
    """A user joins an org through a link or an email invitation; workspace adds the membership
    (never changing the role of an existing member)."""

    event_type = "invitation.accepted"

    invitation_id: str
    kind: InvitationKind
    org_id: str
    user_id: str
    role: str
    # True when the redemption was made for a new user's signup (`user.created`): the user then
    # gets no personal workspace.
    at_signup: bool = False


class InvitationRevoked(EventData):
    event_type = "invitation.revoked"

    invitation_id: str
    kind: InvitationKind
    org_id: str


class InvitationRedemptionFailed(EventData):
    """A new user's signup invitation could not be redeemed; workspace falls back to a personal
    workspace and records `reason` (an error code: invitation_expired, seat_limit_reached, ...)."""

    event_type = "invitation.redemption_failed"

    user_id: str
    reason: str
    # The slug (or legacy code) the signup carried, if any.
    invitation: str | None = None
