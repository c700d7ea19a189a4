"""Redeeming a link: atomic within max_uses and the org's seats, nothing counted when refused."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from invites.errors import AlreadyMember, InvitationExhausted
from invites.service.links import SOURCE, find_link, require_usable
from invites.service.seats import require_free_seat
from shared.events.schemas.invites import InvitationAccepted
from shared.outbox import record_event

# The one guarded update: it counts a use only if the link is still usable at this instant.
_TAKE_USE = text(
    "UPDATE invitation_links SET current_uses = current_uses + 1 WHERE id = :id "
    "AND revoked_at IS NULL AND expires_at > now() AND current_uses < max_uses RETURNING id"
)
_IS_MEMBER = text("SELECT 1 FROM member_views WHERE org_id = :org_id AND user_id = :user_id")
# The new member holds a seat from now on, before workspace's membership.added comes back.
_ADD_MEMBER = text(
    "INSERT INTO member_views (org_id, user_id, role) VALUES (:org_id, :user_id, :role) "
    "ON CONFLICT (org_id, user_id) DO NOTHING"
)
_REMEMBER = text(
    "INSERT INTO link_redemptions (link_id, org_id, user_id) VALUES (:link_id, :org_id, :user_id) "
    "ON CONFLICT DO NOTHING"
)


@dataclass(frozen=True)
class Joined:
    org_id: uuid.UUID
    role: str


async def is_member(session: AsyncSession, *, org_id: uuid.UUID, user_id: str) -> bool:
    """Whether invites knows `user_id` as a member of the org (transaction scoped to it)."""
    row = (await session.execute(_IS_MEMBER, {"org_id": org_id, "user_id": user_id})).first()
    return row is not None


async def add_member(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    user_id: str,
    role: str,
    invitation_id: uuid.UUID,
    kind: str,
    at_signup: bool,
) -> None:
    """Count the new member's seat and announce `invitation.accepted` (keyed by the user)."""
    await session.execute(_ADD_MEMBER, {"org_id": org_id, "user_id": user_id, "role": role})
    await record_event(
        session,
        source=SOURCE,
        subject=user_id,
        data=InvitationAccepted(
            invitation_id=str(invitation_id),
            kind="email" if kind == "email" else "link",
            org_id=str(org_id),
            user_id=user_id,
            role=role,
            at_signup=at_signup,
        ),
    )


async def redeem_link(session: AsyncSession, *, slug: str, user_id: str, at_signup: bool = False) -> Joined:
    """Use one of the link's uses for `user_id`, who joins its org with the link's role.

    Refusals (each raises before anything is written, so no use is counted): unknown slug,
    revoked (or made by someone who may no longer grant its role), expired, used up, already a
    member, every seat held. The seat row of the org is locked first, so concurrent redemptions of
    the org are applied one at a time, and the use is taken by one guarded UPDATE in the same
    transaction.
    """
    link = await find_link(session, slug=slug)
    await require_usable(session, link)
    if await is_member(session, org_id=link.org_id, user_id=user_id):
        raise AlreadyMember("you are already a member of this workspace")
    await require_free_seat(session, org_id=link.org_id)
    # Under the lock: a concurrent redemption of the same user committed meanwhile?
    if await is_member(session, org_id=link.org_id, user_id=user_id):
        raise AlreadyMember("you are already a member of this workspace")
    taken = (await session.execute(_TAKE_USE, {"id": link.id})).first()
    if taken is None:
        # Usable a moment ago: the last use (or a revocation) won the race.
        link = await find_link(session, slug=slug)
        raise link.refusal(datetime.now(UTC)) or InvitationExhausted("this invitation link has been used up")
    await session.execute(_REMEMBER, {"link_id": link.id, "org_id": link.org_id, "user_id": user_id})
    await add_member(
        session,
        org_id=link.org_id,
        user_id=user_id,
        role=link.role,
        invitation_id=link.id,
        kind="link",
        at_signup=at_signup,
    )
    return Joined(org_id=link.org_id, role=link.role)
