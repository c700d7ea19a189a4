"""New users whose signup carries an invitation (DESIGN flow 2): a link's slug in
`pending_invitation`, or an address with email invitations. invites redeems them and announces
the verdict keyed by the user — one or more `invitation.accepted` (at signup), or exactly one
`invitation.redemption_failed` — so workspace knows whether to create a personal workspace."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Text

from invites.errors import InvitationNotFound, RedemptionRefused
from invites.service.email_invitations import (
    EmailInvitation,
    accept_at_signup,
    invitations_for_signup,
    lock_emails,
)
from invites.service.links import SOURCE
from invites.service.projections import normalize_email, record_users
from invites.service.redemption import redeem_link
from shared.events.schemas.identity import UserCreated
from shared.events.schemas.invites import InvitationRedemptionFailed
from shared.outbox import record_event

# The natural key of a verdict: a redelivered user.created (with a new event id or not) is
# answered once.
_CLAIM = text(
    "INSERT INTO signup_redemptions (user_id, outcome) VALUES (:user_id, 'pending') "
    "ON CONFLICT (user_id) DO NOTHING RETURNING user_id"
)
_DECIDE = text("UPDATE signup_redemptions SET outcome = :outcome, reason = :reason WHERE user_id = :user_id")
# Which of a run's addresses were ever invited by email (one statement for the whole run).
_INVITED_EMAILS = text(
    "SELECT DISTINCT email FROM invitation_directory WHERE email = ANY(:emails)"
).bindparams(bindparam("emails", type_=ARRAY(Text())))


async def handle_signups(session: AsyncSession, *, users: Sequence[UserCreated]) -> None:
    """Remember the new users' emails; redeem whatever invitation each signed up with."""
    emails = {user.user_id: normalize_email(user.email) for user in users}
    addresses = sorted({email for email in emails.values() if email})
    # Taken in address order by every writer: an invitation is created either before this
    # signup (and answered here) or after it (and marked for an existing user).
    await lock_emails(session, addresses)
    await record_users(session, users=[(user.user_id, user.email) for user in users])
    invited = (
        {row.email for row in await session.execute(_INVITED_EMAILS, {"emails": addresses})}
        if addresses
        else set()
    )
    for user in users:
        email = emails[user.user_id]
        # Only a verified address binds an email invitation (API.md); workspace decides alike.
        bindable = email is not None and email in invited and user.email_verified
        invitations = await invitations_for_signup(session, email=email) if bindable and email else []
        if user.pending_invitation or invitations:
            await redeem_for_signup(
                session, user_id=user.user_id, slug=user.pending_invitation, invitations=invitations
            )


async def redeem_for_signup(
    session: AsyncSession, *, user_id: str, slug: str | None, invitations: Sequence[EmailInvitation] = ()
) -> None:
    """Redeem the signup's link and email invitations once; if none could be, announce
    `invitation.redemption_failed` with the first reason."""
    if (await session.execute(_CLAIM, {"user_id": user_id})).first() is None:
        return
    joined = 0
    reasons: list[str] = []
    if slug:
        try:
            await redeem_link(session, slug=slug, user_id=user_id, at_signup=True)
            joined += 1
        except (RedemptionRefused, InvitationNotFound) as refusal:
            reasons.append(refusal.code)
    for invitation in invitations:
        try:
            await accept_at_signup(session, invitation=invitation, user_id=user_id)
            joined += 1
        except (RedemptionRefused, InvitationNotFound) as refusal:
            reasons.append(refusal.code)
    if joined:
        await session.execute(_DECIDE, {"user_id": user_id, "outcome": "joined", "reason": None})
        return
    reason = reasons[0] if reasons else "invitation_not_found"
    await session.execute(_DECIDE, {"user_id": user_id, "outcome": "failed", "reason": reason})
    await record_event(
        session,
        source=SOURCE,
        subject=user_id,
        data=InvitationRedemptionFailed(user_id=user_id, reason=reason, invitation=slug),
    )
