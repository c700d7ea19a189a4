"""New users whose signup carried an invitation (DESIGN flow 2): redeem it for them, and tell
workspace the verdict, keyed by the user, so it knows whether to create a personal workspace."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from invites.errors import InvitationNotFound, RedemptionRefused
from invites.service.links import SOURCE
from invites.service.projections import record_users
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


async def handle_signups(session: AsyncSession, *, users: Sequence[UserCreated]) -> None:
    """Remember the new users' emails; redeem the invitation any of them signed up with."""
    await record_users(session, users=[(user.user_id, user.email) for user in users])
    for user in users:
        if user.pending_invitation:
            await redeem_for_signup(session, user_id=user.user_id, slug=user.pending_invitation)


async def redeem_for_signup(session: AsyncSession, *, user_id: str, slug: str) -> None:
    """Redeem `slug` for a new user once; on refusal announce `invitation.redemption_failed`."""
    if (await session.execute(_CLAIM, {"user_id": user_id})).first() is None:
        return
    try:
        await redeem_link(session, slug=slug, user_id=user_id, at_signup=True)
    except (RedemptionRefused, InvitationNotFound) as refusal:
        await _failed(session, user_id=user_id, slug=slug, reason=refusal.code)
    else:
        await session.execute(_DECIDE, {"user_id": user_id, "outcome": "joined", "reason": None})


async def _failed(session: AsyncSession, *, user_id: str, slug: str, reason: str) -> None:
    await session.execute(_DECIDE, {"user_id": user_id, "outcome": "failed", "reason": reason})
    await record_event(
        session,
        source=SOURCE,
        subject=user_id,
        data=InvitationRedemptionFailed(user_id=user_id, reason=reason, invitation=slug),
    )
