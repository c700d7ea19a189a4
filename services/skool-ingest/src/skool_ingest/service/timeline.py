"""skool-ingest's part of `devstack trace`: the verified Skool deliveries about a member, and the
member's other ids (email, Skool member id, the user id of their account)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.http.operator import TIMELINE_LIMIT, Findings, json_needle, webhook_entry

SERVICE = "skool-ingest"
# By the member's email (stored lower-cased), or the id as a JSON string in the raw body (a
# Skool member id): a scan of the delivery log, bounded.
_DELIVERIES = text(
    "SELECT event_id, natural_key, event_type, community_id, received_at, traceparent "
    "FROM skool_deliveries WHERE email = lower(:q) OR position(:needle IN body) > 0 "
    "ORDER BY received_at LIMIT :limit"
)
_IDS = text(
    "SELECT email, skool_member_id AS other FROM skool_subscriptions "
    "WHERE email = lower(:q) OR skool_member_id = :q "
    "UNION SELECT email, user_id FROM skool_accounts WHERE email = lower(:q) OR user_id = :q "
    "LIMIT :limit"
)


async def timeline_findings(session: AsyncSession, q: str) -> Findings:
    """Skool deliveries about `q` (an email or Skool member id); related: the member's ids."""
    params = {"q": q, "needle": json_needle(q).decode(), "limit": TIMELINE_LIMIT}
    deliveries = (await session.execute(_DELIVERIES, params)).all()
    entries = [
        webhook_entry(
            service=SERVICE,
            at=row.received_at,
            summary=f"skool webhook {row.event_id or row.natural_key} accepted ({row.community_id})",
            event_type=row.event_type,
            traceparent=row.traceparent,
        )
        for row in deliveries
    ]
    related = [value for row in (await session.execute(_IDS, params)).all() for value in row if value]
    return Findings(entries=entries, related=related, truncated=len(deliveries) >= TIMELINE_LIMIT)
