"""Email invitations (seed 004 section 6): bound to one normalized address, single use, holding a
seat while pending. The token is mailed once; only its SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Text

from invites.errors import (
    AlreadyInvited,
    AlreadyMember,
    EmailMismatch,
    InvitationExpired,
    InvitationNotFound,
    InvitationRevoked,
    InvitationUsed,
    SeatLimitReached,
)
from invites.service.access import creator_may_still_grant
from invites.service.links import SOURCE
from invites.service.projections import normalize_email
from invites.service.redemption import Joined, add_member, is_member
from invites.service.seats import lock_seats, require_free_seat
from shared.db.tenancy import set_tenant
from shared.events.schemas.invites import InvitationCreated
from shared.events.schemas.invites import InvitationRevoked as InvitationRevokedEvent
from shared.outbox import record_event

EXPIRES_IN = timedelta(days=7)
_COLUMNS = "id, org_id, email, role, status, expires_at, created_by, created_at"
_LOCK_EMAILS = text(
    "SELECT pg_advisory_xact_lock(hashtext('invite-email:' || e)) FROM "
    "(SELECT DISTINCT e FROM unnest(:emails) AS e ORDER BY e) AS sorted"
).bindparams(bindparam("emails", type_=ARRAY(Text())))


@dataclass(frozen=True)
class EmailInvitation:
    id: uuid.UUID
    org_id: uuid.UUID
    email: str
    role: str
    status: str
    expires_at: datetime
    created_by: str
    created_at: datetime

    @property
    def shown_status(self) -> str:
        """pending, accepted, revoked — or expired for a pending one past its date."""
        if self.status == "pending" and self.expires_at <= datetime.now(UTC):
            return "expired"
        return self.status


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: EmailInvitation
    token: str


def _token() -> tuple[str, bytes]:
    token = secrets.token_urlsafe(32)
    return token, hashlib.sha256(token.encode()).digest()


def _directory_key(token_hash: bytes) -> str:
    return "token:" + token_hash.hex()


async def lock_emails(session: AsyncSession, emails: Sequence[str]) -> None:
    """Serialize, per address, a new invitation with the signup of that address (docs/invitations.md:
    workspace then never waits for an invitation invites will not decide)."""
    if emails:
        await session.execute(_LOCK_EMAILS, {"emails": list(emails)})


async def invite_by_email(
    session: AsyncSession, *, org_id: uuid.UUID, email: str, role: str, invited_by: str
) -> IssuedInvitation:
    """A pending invitation for `email` (normalized) to join with `role`; the caller mails the token.

    Refused: the address belongs to a member (already_member), a pending invitation for it exists
    (already_invited), every seat is held (seat_limit_reached).
    """
    address = normalize_email(email) or ""
    await lock_emails(session, [address])
    await set_tenant(session, org_id)
    existing_users = [
        row.user_id
        for row in await session.execute(
            text("SELECT user_id FROM user_views WHERE email = :email"), {"email": address}
        )
    ]
    for user_id in existing_users:
        if await is_member(session, org_id=org_id, user_id=user_id):
            raise AlreadyMember("this address belongs to a member of the workspace")
    pending = await session.execute(
        text(
            "SELECT 1 FROM email_invitations WHERE org_id = :org_id AND email = :email "
            "AND status = 'pending' AND expires_at > now()"
        ),
        {"org_id": org_id, "email": address},
    )
    if pending.first() is not None:
        raise AlreadyInvited("a pending invitation for this address exists; resend it instead")
    await require_free_seat(session, org_id=org_id)
    # A pending one past its date holds nothing any more: close it so the new one may exist.
    await session.execute(
        text(
            "UPDATE email_invitations SET status = 'expired', closed_at = now() WHERE org_id = :org_id "
            "AND email = :email AND status = 'pending' AND expires_at <= now()"
        ),
        {"org_id": org_id, "email": address},
    )
    token, token_hash = _token()
    row = (
        await session.execute(
            text(
                "INSERT INTO email_invitations (id, org_id, email, role, token_hash, expires_at, created_by) "
                "VALUES (:id, :org_id, :email, :role, :hash, :expires_at, :by) "
                f"ON CONFLICT DO NOTHING RETURNING {_COLUMNS}"
            ),
            {
                "id": uuid.uuid4(),
                "org_id": org_id,
                "email": address,
                "role": role,
                "hash": token_hash,
                "expires_at": datetime.now(UTC) + EXPIRES_IN,
                "by": invited_by,
            },
        )
    ).first()
    if row is None:
        raise AlreadyInvited("a pending invitation for this address exists; resend it instead")
    invitation = EmailInvitation(**row._mapping)
    await session.execute(
        text("INSERT INTO invitation_directory (key, org_id, email) VALUES (:key, :org_id, :email)"),
        {"key": _directory_key(token_hash), "org_id": org_id, "email": address},
    )
    await _announce(session, invitation, for_existing_user=bool(existing_users))
    return IssuedInvitation(invitation=invitation, token=token)


async def _announce(session: AsyncSession, invitation: EmailInvitation, *, for_existing_user: bool) -> None:
    await record_event(
        session,
        source=SOURCE,
        subject=str(invitation.org_id),
        data=InvitationCreated(
            invitation_id=str(invitation.id),
            kind="email",
            org_id=str(invitation.org_id),
            role=invitation.role,
            expires_at=invitation.expires_at,
            created_by=invitation.created_by,
            email=invitation.email,
            for_existing_user=for_existing_user,
        ),
    )


async def list_invitations(session: AsyncSession, *, org_id: uuid.UUID) -> list[EmailInvitation]:
    """Every email invitation of the org, newest first."""
    await set_tenant(session, org_id)
    rows = await session.execute(
        text(f"SELECT {_COLUMNS} FROM email_invitations WHERE org_id = :org_id ORDER BY created_at DESC"),
        {"org_id": org_id},
    )
    return [EmailInvitation(**row._mapping) for row in rows]


async def _get(session: AsyncSession, org_id: uuid.UUID, invitation_id: uuid.UUID) -> EmailInvitation:
    row = (
        await session.execute(
            text(f"SELECT {_COLUMNS} FROM email_invitations WHERE org_id = :org_id AND id = :id FOR UPDATE"),
            {"org_id": org_id, "id": invitation_id},
        )
    ).first()
    if row is None:
        raise InvitationNotFound("no such invitation")
    return EmailInvitation(**row._mapping)


def _refuse_closed(invitation: EmailInvitation) -> None:
    if invitation.status == "accepted":
        raise InvitationUsed("this invitation has already been used")
    if invitation.status == "revoked":
        raise InvitationRevoked("this invitation was revoked")


async def revoke_invitation(session: AsyncSession, *, org_id: uuid.UUID, invitation_id: uuid.UUID) -> None:
    """Revoke a pending invitation (its seat is free again); revoking twice is fine."""
    await set_tenant(session, org_id)
    invitation = await _get(session, org_id, invitation_id)
    if invitation.status == "revoked":
        return
    _refuse_closed(invitation)
    await session.execute(
        text("UPDATE email_invitations SET status = 'revoked', closed_at = now() WHERE id = :id"),
        {"id": invitation_id},
    )
    await record_event(
        session,
        source=SOURCE,
        subject=str(org_id),
        data=InvitationRevokedEvent(invitation_id=str(invitation_id), kind="email", org_id=str(org_id)),
    )


async def resend_invitation(
    session: AsyncSession, *, org_id: uuid.UUID, invitation_id: uuid.UUID
) -> IssuedInvitation:
    """A new token (the previous email's link stops working) and a new expiry for a pending or
    expired invitation; an expired one takes a seat again, so needs a free one."""
    await set_tenant(session, org_id)
    # The seat row first, then the invitation row: the order every writer takes them in.
    seats = await lock_seats(session, org_id=org_id)
    invitation = await _get(session, org_id, invitation_id)
    _refuse_closed(invitation)
    if invitation.shown_status != "pending" and seats.full:
        raise SeatLimitReached(f"all {seats.limit} seats of this workspace are taken")
    token, token_hash = _token()
    row = (
        await session.execute(
            text(
                "UPDATE email_invitations SET token_hash = :hash, expires_at = :expires_at, "
                f"status = 'pending', closed_at = NULL WHERE id = :id RETURNING {_COLUMNS}"
            ),
            {"hash": token_hash, "expires_at": datetime.now(UTC) + EXPIRES_IN, "id": invitation_id},
        )
    ).one()
    await session.execute(
        text("INSERT INTO invitation_directory (key, org_id, email) VALUES (:key, :org_id, :email)"),
        {"key": _directory_key(token_hash), "org_id": org_id, "email": invitation.email},
    )
    renewed = EmailInvitation(**row._mapping)
    await _announce(session, renewed, for_existing_user=False)
    return IssuedInvitation(invitation=renewed, token=token)


async def accept_invitation(session: AsyncSession, *, token: str, user_id: str) -> Joined:
    """The invited address's owner joins with the invitation's role (once)."""
    token_hash = hashlib.sha256(token.encode()).digest()
    org_id = (
        await session.execute(
            text("SELECT org_id FROM invitation_directory WHERE key = :key"),
            {"key": _directory_key(token_hash)},
        )
    ).scalar_one_or_none()
    if org_id is None:
        raise InvitationNotFound("no such invitation")
    await set_tenant(session, org_id)
    row = (
        await session.execute(
            text(f"SELECT {_COLUMNS} FROM email_invitations WHERE token_hash = :hash"), {"hash": token_hash}
        )
    ).first()
    if row is None:
        # An older token of a resent invitation.
        raise InvitationNotFound("this invitation link was replaced by a newer one")
    email = (
        await session.execute(text("SELECT email FROM user_views WHERE user_id = :u"), {"u": user_id})
    ).scalar_one_or_none()
    return await _accept(
        session, EmailInvitation(**row._mapping), user_id=user_id, email=email, at_signup=False
    )


async def _accept(
    session: AsyncSession, invitation: EmailInvitation, *, user_id: str, email: str | None, at_signup: bool
) -> Joined:
    seats = await lock_seats(session, org_id=invitation.org_id)
    current = await _get(session, invitation.org_id, invitation.id)
    _refuse_closed(current)
    if current.shown_status == "expired":
        raise InvitationExpired("this invitation has expired")
    if not await creator_may_still_grant(
        session, org_id=current.org_id, created_by=current.created_by, role=current.role
    ):
        raise InvitationRevoked("whoever sent this invitation can no longer grant its role")
    if email is None or normalize_email(email) != current.email:
        raise EmailMismatch("this invitation was sent to another email address")
    if await is_member(session, org_id=current.org_id, user_id=user_id):
        raise AlreadyMember("you are already a member of this workspace")
    # The pending invitation already holds its seat; refuse only if the plan shrank below it.
    if seats.limit is not None and seats.held > seats.limit:
        raise SeatLimitReached(f"all {seats.limit} seats of this workspace are taken")
    await session.execute(
        text(
            "UPDATE email_invitations SET status = 'accepted', accepted_by = :u, closed_at = now() "
            "WHERE id = :id"
        ),
        {"u": user_id, "id": current.id},
    )
    await add_member(
        session,
        org_id=current.org_id,
        user_id=user_id,
        role=current.role,
        invitation_id=current.id,
        kind="email",
        at_signup=at_signup,
    )
    return Joined(org_id=current.org_id, role=current.role)


async def invitations_for_signup(session: AsyncSession, *, email: str) -> list[EmailInvitation]:
    """Every email invitation workspace may be waiting on for a new user with this address (all
    states: invites must answer each with a verdict)."""
    rows = (
        await session.execute(
            text("SELECT org_id FROM invitation_directory WHERE email = :email"), {"email": email}
        )
    ).all()
    found: list[EmailInvitation] = []
    for org_id in sorted({row.org_id for row in rows}):
        await set_tenant(session, org_id)
        found += [
            EmailInvitation(**row._mapping)
            for row in await session.execute(
                text(f"SELECT {_COLUMNS} FROM email_invitations WHERE org_id = :o AND email = :e"),
                {"o": org_id, "e": email},
            )
        ]
    return found


async def accept_at_signup(session: AsyncSession, *, invitation: EmailInvitation, user_id: str) -> Joined:
    """Accept for a new user whose signup address is the invited one."""
    await set_tenant(session, invitation.org_id)
    return await _accept(session, invitation, user_id=user_id, email=invitation.email, at_signup=True)
