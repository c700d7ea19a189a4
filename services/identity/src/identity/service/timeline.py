"""identity's part of `devstack trace`: the auth deliveries about a user, and the user's other id
(an email's user id, a user's email)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.http.operator import TIMELINE_LIMIT, Findings, webhook_entry

SERVICE = "identity"
# Emails are stored lower-cased (ClerkUser.primary_email).
_USERS = text("SELECT id, email FROM users WHERE id = :q OR email = lower(:q) LIMIT :limit")
# Containment on the stored payload: the user's id, or one of its addresses (a scan, bounded).
_DELIVERIES = text(
    "SELECT svix_id, event_type, received_at, traceparent FROM auth_deliveries "
    "WHERE payload @> jsonb_build_object('data', jsonb_build_object('id', CAST(:q AS text))) "
    "OR payload @> jsonb_build_object('data', jsonb_build_object('email_addresses', "
    "jsonb_build_array(jsonb_build_object('email_address', CAST(:q AS text))))) "
    "ORDER BY received_at LIMIT :limit"
)


async def timeline_findings(session: AsyncSession, q: str) -> Findings:
    """Auth deliveries naming `q` (a user id or email); related: the user's id and email."""
    users = (await session.execute(_USERS, {"q": q, "limit": TIMELINE_LIMIT})).all()
    deliveries = (await session.execute(_DELIVERIES, {"q": q, "limit": TIMELINE_LIMIT})).all()
    entries = [
        webhook_entry(
            service=SERVICE,
            at=row.received_at,
            summary=f"auth webhook {row.svix_id} processed",
            event_type=row.event_type,
            traceparent=row.traceparent,
        )
        for row in deliveries
    ]
    related = [value for row in users for value in (row.id, row.email) if value]
    return Findings(entries=entries, related=related, truncated=len(deliveries) >= TIMELINE_LIMIT)
