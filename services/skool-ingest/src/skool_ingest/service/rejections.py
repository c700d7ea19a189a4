"""Refused deliveries are counted by reason, never stored (nothing of theirs is trusted)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_COUNT = text(
    "INSERT INTO skool_rejections (reason, count) VALUES (:reason, 1) ON CONFLICT (reason) "
    "DO UPDATE SET count = skool_rejections.count + 1, last_at = now()"
)
_READ = text("SELECT reason, count AS n FROM skool_rejections ORDER BY reason")


async def count_rejection(session: AsyncSession, *, reason: str) -> None:
    """One more delivery refused for `reason`."""
    await session.execute(_COUNT, {"reason": reason})


async def rejection_counts(session: AsyncSession) -> dict[str, int]:
    """Refused deliveries so far, by reason."""
    return {row.reason: int(row.n) for row in await session.execute(_READ)}
