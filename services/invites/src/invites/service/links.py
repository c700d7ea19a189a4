"""Invitation links (seed 004 section 2): create, list, revoke, look up, check usability."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from invites.errors import (
    InvitationExhausted,
    InvitationExpired,
    InvitationNotFound,
    InvitationRevoked,
)
from invites.service.access import creator_may_still_grant
from invites.service.seats import require_free_seat
from shared.db.tenancy import set_tenant
from shared.events.schemas.invites import InvitationCreated
from shared.events.schemas.invites import InvitationRevoked as InvitationRevokedEvent
from shared.outbox import record_event

SOURCE = "invites"
# A migrated legacy code names its link until its cut-over: the one given to the migration, else
# this long after the migration (also for codes migrated before there was a default).
DEFAULT_LEGACY_CUTOVER = timedelta(days=90)
# 32 bytes of the OS CSPRNG, URL-safe base64 (43 characters): 256 bits, far past the 128 asked.
SLUG_BYTES = 32

_COLUMNS = "id, slug, org_id, role, max_uses, current_uses, expires_at, created_by, created_at, revoked_at"
_INSERT = text(
    f"INSERT INTO invitation_links ({_COLUMNS}, legacy_code, legacy_until) VALUES (:id, :slug, :org_id, "
    ":role, :max_uses, :current_uses, :expires_at, :created_by, now(), NULL, :legacy_code, :legacy_until) "
    f"RETURNING {_COLUMNS}"
)
_DIRECTORY = text(
    "INSERT INTO invitation_directory (key, org_id) VALUES (:key, :org_id) ON CONFLICT (key) DO NOTHING"
)
_FIND_ORG = text("SELECT org_id FROM invitation_directory WHERE key = :key")
# A legacy code names its link only until its cut-over.
_BY_SLUG = text(
    f"SELECT {_COLUMNS} FROM invitation_links WHERE slug = :slug "
    "OR (legacy_code = :slug AND COALESCE(legacy_until, created_at + :default_cutover) > now())"
)
_USABLE = "revoked_at IS NULL AND expires_at > now() AND current_uses < max_uses"


@dataclass(frozen=True)
class Link:
    id: uuid.UUID
    slug: str
    org_id: uuid.UUID
    role: str
    max_uses: int
    current_uses: int
    expires_at: datetime
    created_by: str
    created_at: datetime
    revoked_at: datetime | None

    def refusal(self, now: datetime) -> Exception | None:
        """Why the link cannot be used now, if it cannot (revoked, expired, used up)."""
        if self.revoked_at is not None:
            return InvitationRevoked("this invitation link was revoked")
        if self.expires_at <= now:
            return InvitationExpired("this invitation link has expired")
        if self.current_uses >= self.max_uses:
            return InvitationExhausted("this invitation link has been used up")
        return None


def new_slug() -> str:
    """A fresh unguessable slug from the OS CSPRNG."""
    return secrets.token_urlsafe(SLUG_BYTES)


async def create_link(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    role: str,
    max_uses: int,
    expires_in_days: int,
    created_by: str,
) -> Link:
    """A new link to the org (the caller checked who may); refused when every seat is held."""
    await require_free_seat(session, org_id=org_id)
    expires_at = datetime.now(UTC) + timedelta(days=expires_in_days)
    return await insert_link(
        session, org_id=org_id, role=role, max_uses=max_uses, expires_at=expires_at, created_by=created_by
    )


async def insert_link(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    role: str,
    max_uses: int,
    expires_at: datetime,
    created_by: str,
    current_uses: int = 0,
    slug: str | None = None,
    legacy_code: str | None = None,
    legacy_until: datetime | None = None,
) -> Link:
    """Store a link, its directory entries, and announce it (`invitation.created`)."""
    await set_tenant(session, org_id)
    link_id = uuid.uuid4()
    slug = slug or new_slug()
    row = (
        await session.execute(
            _INSERT,
            {
                "id": link_id,
                "slug": slug,
                "org_id": org_id,
                "role": role,
                "max_uses": max_uses,
                "current_uses": current_uses,
                "expires_at": expires_at,
                "created_by": created_by,
                "legacy_code": legacy_code,
                "legacy_until": legacy_until,
            },
        )
    ).one()
    for key in (slug, legacy_code):
        if key is not None:
            await session.execute(_DIRECTORY, {"key": key, "org_id": org_id})
    link = Link(**row._mapping)
    await record_event(
        session,
        source=SOURCE,
        subject=str(org_id),
        data=InvitationCreated(
            invitation_id=str(link.id),
            kind="link",
            org_id=str(org_id),
            role=role,
            expires_at=expires_at,
            created_by=created_by,
        ),
    )
    return link


async def list_links(session: AsyncSession, *, org_id: uuid.UUID, include_all: bool) -> list[Link]:
    """The org's usable links, newest first (every link with `include_all`)."""
    await set_tenant(session, org_id)
    where = "org_id = :org_id" + ("" if include_all else f" AND {_USABLE}")
    rows = await session.execute(
        text(f"SELECT {_COLUMNS} FROM invitation_links WHERE {where} ORDER BY created_at DESC"),
        {"org_id": org_id},
    )
    return [Link(**row._mapping) for row in rows]


async def revoke_link(session: AsyncSession, *, org_id: uuid.UUID, slug: str) -> None:
    """Soft-revoke a link of this org (revoking twice is fine); unknown → InvitationNotFound."""
    await set_tenant(session, org_id)
    row = (
        await session.execute(
            text(
                "UPDATE invitation_links SET revoked_at = COALESCE(revoked_at, now()) "
                "WHERE org_id = :org_id AND slug = :slug RETURNING id, revoked_at = now() AS now_revoked"
            ),
            {"org_id": org_id, "slug": slug},
        )
    ).first()
    if row is None:
        raise InvitationNotFound("no such invitation link")
    if row.now_revoked:
        await record_event(
            session,
            source=SOURCE,
            subject=str(org_id),
            data=InvitationRevokedEvent(invitation_id=str(row.id), kind="link", org_id=str(org_id)),
        )


async def find_link(session: AsyncSession, *, slug: str) -> Link:
    """The link a slug (or a migrated legacy code) names, whatever its state; scopes the
    transaction to its org. Unknown → InvitationNotFound."""
    org_id = (await session.execute(_FIND_ORG, {"key": slug})).scalar_one_or_none()
    if org_id is None:
        raise InvitationNotFound("no such invitation link")
    await set_tenant(session, org_id)
    row = (await session.execute(_BY_SLUG, {"slug": slug, "default_cutover": DEFAULT_LEGACY_CUTOVER})).first()
    if row is None:
        raise InvitationNotFound("no such invitation link")
    return Link(**row._mapping)


async def require_usable(session: AsyncSession, link: Link) -> None:
    """Raise why the link cannot be used now: revoked, expired, used up (its own state), or made by
    someone who may no longer grant its role (refused as revoked)."""
    refusal = link.refusal(datetime.now(UTC))
    if refusal is not None:
        raise refusal
    if not await creator_may_still_grant(
        session, org_id=link.org_id, created_by=link.created_by, role=link.role
    ):
        raise InvitationRevoked("whoever made this link can no longer grant its role")


async def usable_link(session: AsyncSession, *, slug: str) -> tuple[Link, str]:
    """The link if it can be used now, with its org's name; else its 404/410 error."""
    link = await find_link(session, slug=slug)
    await require_usable(session, link)
    name = (
        await session.execute(text("SELECT name FROM org_views WHERE org_id = :o"), {"o": link.org_id})
    ).scalar_one_or_none()
    return link, name or ""
