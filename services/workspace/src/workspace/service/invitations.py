"""Invited signups and invitation acceptances (DESIGN flow 2; see docs/invitations.md).

A new user whose `user.created` carries an invitation gets no personal workspace until invites
has decided: `invitation.accepted` (at signup) → the membership, never a personal org;
`invitation.redemption_failed` → the personal workspace after all, with the reason kept. The two
come on different topics, in either order and possibly twice: `invited_signups` keeps what was
seen of each, and every effect rests on a natural key (membership primary key, unique
`personal_user_id`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Text

from shared.events.schemas.invites import (
    InvitationAccepted,
    InvitationCreated,
    InvitationRedemptionFailed,
    InvitationRevoked,
)
from shared.messaging.consumer import PermanentError
from workspace.errors import OrgNotFound, PersonalOrgRefused
from workspace.models import Role
from workspace.service.members import add_member
from workspace.service.personal import PersonalOrgRequest, create_personal_orgs

# user.created for a run of invited users: remember them, and learn which verdicts already came.
_SIGNED_UP = text(
    "INSERT INTO invited_signups (user_id, signed_up, first_name, invitation, traceparent) "
    "SELECT u.user_id, true, u.first_name, u.invitation, u.traceparent "
    "FROM unnest(:user_ids, :first_names, :invitations, :traceparents) "
    "AS u(user_id, first_name, invitation, traceparent) "
    "ON CONFLICT (user_id) DO UPDATE SET signed_up = true, first_name = excluded.first_name, "
    "invitation = excluded.invitation, traceparent = excluded.traceparent, updated_at = now() "
    "RETURNING user_id, outcome"
).bindparams(
    bindparam("user_ids", type_=ARRAY(Text())),
    bindparam("first_names", type_=ARRAY(Text())),
    bindparam("invitations", type_=ARRAY(Text())),
    bindparam("traceparents", type_=ARRAY(Text())),
)
# Joined is final: a later failure verdict (for another invitation) cannot undo a membership.
_VERDICT = text(
    "INSERT INTO invited_signups (user_id, outcome, reason) VALUES (:user_id, :outcome, :reason) "
    "ON CONFLICT (user_id) DO UPDATE SET "
    "outcome = CASE WHEN invited_signups.outcome = 'joined' THEN 'joined' ELSE excluded.outcome END, "
    "reason = CASE WHEN invited_signups.outcome = 'joined' THEN invited_signups.reason "
    "ELSE excluded.reason END, updated_at = now() "
    "RETURNING signed_up, outcome, first_name, traceparent"
)


_OPEN_EMAIL_INVITATION = text(
    "INSERT INTO email_invitation_views (invitation_id, email, expires_at) VALUES (:id, :email, :expires_at) "
    "ON CONFLICT (invitation_id) DO UPDATE SET email = excluded.email, expires_at = excluded.expires_at "
    "WHERE email_invitation_views.open"
)
_CLOSE_EMAIL_INVITATION = text(
    "INSERT INTO email_invitation_views (invitation_id, open) VALUES (:id, false) "
    "ON CONFLICT (invitation_id) DO UPDATE SET open = false"
)
_INVITED_ADDRESSES = text(
    "SELECT DISTINCT email FROM email_invitation_views WHERE open AND expires_at > now() "
    "AND email = ANY(:emails)"
).bindparams(bindparam("emails", type_=ARRAY(Text())))


def normalize_email(email: str | None) -> str | None:
    """As invites binds invitations to addresses: trimmed, lower case."""
    cleaned = (email or "").strip().lower()
    return cleaned or None


async def invited_addresses(session: AsyncSession, *, emails: Sequence[str | None]) -> set[str]:
    """Which of these (normalized) addresses have an open email invitation (one statement)."""
    addresses = sorted({e for e in map(normalize_email, emails) if e})
    if not addresses:
        return set()
    return {row.email for row in await session.execute(_INVITED_ADDRESSES, {"emails": addresses})}


async def note_invitation_created(session: AsyncSession, *, created: InvitationCreated) -> None:
    """An email invitation for an address with no account yet: its signup will wait for invites."""
    if created.kind != "email" or created.for_existing_user or not created.email:
        return
    await session.execute(
        _OPEN_EMAIL_INVITATION,
        {"id": created.invitation_id, "email": created.email, "expires_at": created.expires_at},
    )


async def note_invitation_revoked(session: AsyncSession, *, revoked: InvitationRevoked) -> None:
    if revoked.kind == "email":
        await session.execute(_CLOSE_EMAIL_INVITATION, {"id": revoked.invitation_id})


@dataclass(frozen=True)
class InvitedSignup:
    user_id: str
    first_name: str | None
    invitation: str | None
    traceparent: str | None


async def hold_invited_signups(
    session: AsyncSession, *, signups: Sequence[InvitedSignup]
) -> list[PersonalOrgRequest]:
    """Record new users who came with an invitation (one statement); returns those whose
    redemption already failed, who get their personal workspace now. The others wait."""
    # One row per user per statement (a re-announced user.created may share a run with the first).
    signups = list({s.user_id: s for s in signups}.values())
    if not signups:
        return []
    rows = await session.execute(
        _SIGNED_UP,
        {
            "user_ids": [s.user_id for s in signups],
            "first_names": [s.first_name for s in signups],
            "invitations": [s.invitation for s in signups],
            "traceparents": [s.traceparent for s in signups],
        },
    )
    failed = {row.user_id for row in rows if row.outcome == "failed"}
    return [
        PersonalOrgRequest(s.user_id, s.first_name, s.traceparent) for s in signups if s.user_id in failed
    ]


async def accept_invitation(session: AsyncSession, *, accepted: InvitationAccepted) -> None:
    """Add the membership invites accepted (an existing member keeps their role) and announce it;
    a signup's acceptance also settles that the user gets no personal workspace."""
    if accepted.kind == "email":
        await session.execute(_CLOSE_EMAIL_INVITATION, {"id": accepted.invitation_id})
    if accepted.at_signup:
        await session.execute(_VERDICT, {"user_id": accepted.user_id, "outcome": "joined", "reason": None})
    try:  # the one way a member is added: locks the org, keeps an existing member's role
        await add_member(
            session, org_id=uuid.UUID(accepted.org_id), user_id=accepted.user_id, role=Role(accepted.role)
        )
    except (OrgNotFound, PersonalOrgRefused) as error:
        raise PermanentError(f"invitation.accepted for org {accepted.org_id}: {error}") from error


async def fall_back_to_personal(session: AsyncSession, *, failed: InvitationRedemptionFailed) -> None:
    """The signup's invitation could not be redeemed: record why, and create the personal
    workspace now if the user's signup was already seen (else user.created will)."""
    row = (
        await session.execute(
            _VERDICT, {"user_id": failed.user_id, "outcome": "failed", "reason": failed.reason}
        )
    ).one()
    if row.signed_up and row.outcome == "failed":
        await create_personal_orgs(
            session, requests=[PersonalOrgRequest(failed.user_id, row.first_name, row.traceparent)]
        )
