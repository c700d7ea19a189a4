"""workspace's part of `devstack trace`: a user's personal org, whose plan events are keyed by
the org and do not name the user, and why their signup went as it did when their address matched
an invitation or an entitlement it could not bind (an unverified address)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.http.operator import Findings, ids_of, webhook_entry
from workspace.service.scope import user_directory

SERVICE = "workspace"
_PERSONAL_ORG = text("SELECT id FROM orgs WHERE personal_user_id = :q")
_SIGNUP_NOTE = text(
    "SELECT created_at, signup_note FROM member_profiles WHERE id = :q AND signup_note IS NOT NULL"
)


async def timeline_findings(session: AsyncSession, q: str) -> Findings:
    """Related to a user id: their personal org (read through the user's directory scope); and
    the signup's note, as a line of its own."""
    async with user_directory(session, q):
        rows = (await session.execute(_PERSONAL_ORG, {"q": q})).all()
    notes = (await session.execute(_SIGNUP_NOTE, {"q": q})).all()
    entries = [
        # Shown like a received delivery: a line with its time and words (trace.py).
        webhook_entry(
            service=SERVICE,
            at=note.created_at,
            summary=f"signup: {note.signup_note}",
            event_type="user.created",
            traceparent=None,
        )
        for note in notes
    ]
    return Findings(entries=entries, related=ids_of(rows))
