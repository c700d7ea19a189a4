"""billing's part of `devstack trace`: the Stripe deliveries about an org (or naming an id)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.http.operator import TIMELINE_LIMIT, Findings, json_needle, webhook_entry

SERVICE = "billing"
# The org billing linked the event to, or the id as a JSON string anywhere in the event (a
# customer, subscription or checkout id; a scan of a delivery log, bounded).
_DELIVERIES = text(
    "SELECT event_id, event_type, outcome, received_at, traceparent FROM stripe_events "
    "WHERE org_id = :q OR position(:needle IN payload::text) > 0 ORDER BY received_at LIMIT :limit"
)


async def timeline_findings(session: AsyncSession, q: str) -> Findings:
    """Stripe deliveries about `q` (an org id, or a Stripe id)."""
    rows = (
        await session.execute(
            _DELIVERIES, {"q": q, "needle": json_needle(q).decode(), "limit": TIMELINE_LIMIT}
        )
    ).all()
    entries = [
        webhook_entry(
            service=SERVICE,
            at=row.received_at,
            summary=f"stripe webhook {row.event_id} {row.outcome}",
            event_type=row.event_type,
            traceparent=row.traceparent,
        )
        for row in rows
    ]
    return Findings(entries=entries, truncated=len(rows) >= TIMELINE_LIMIT)
