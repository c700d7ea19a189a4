"""Seats: held = members + pending email invitations; the limit comes from the org's plan."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from invites.errors import SeatLimitReached

# billing starts every team org on `free` (3 seats): the limit until its first subscription.changed.
DEFAULT_TEAM_SEATS = 3

_ENSURE = text("INSERT INTO org_seats (org_id) VALUES (:org_id) ON CONFLICT (org_id) DO NOTHING")
_LOCK = text("SELECT seats, plan FROM org_seats WHERE org_id = :org_id FOR UPDATE")
_READ = text("SELECT seats, plan FROM org_seats WHERE org_id = :org_id")
_HELD = text(
    "SELECT (SELECT count(*) FROM member_views WHERE org_id = :org_id) + "
    "(SELECT count(*) FROM email_invitations WHERE org_id = :org_id AND status = 'pending' "
    "AND expires_at > now())"
)


@dataclass(frozen=True)
class Seats:
    limit: int | None  # None = unlimited
    held: int

    @property
    def full(self) -> bool:
        return self.limit is not None and self.held >= self.limit


async def _seats(session: AsyncSession, org_id: uuid.UUID, *, lock: bool) -> Seats:
    if lock:
        await session.execute(_ENSURE, {"org_id": org_id})
    row = (await session.execute(_LOCK if lock else _READ, {"org_id": org_id})).first()
    if row is None or row.plan is None:
        limit: int | None = DEFAULT_TEAM_SEATS
    else:
        limit = row.seats
    held = int((await session.execute(_HELD, {"org_id": org_id})).scalar_one())
    return Seats(limit=limit, held=held)


async def lock_seats(session: AsyncSession, *, org_id: uuid.UUID) -> Seats:
    """Lock the org's seat row for the rest of the transaction, then count: every redemption,
    acceptance and invitation of the org passes here one at a time, so none counts a seat that
    another is taking. The caller must have scoped the transaction to the org."""
    return await _seats(session, org_id, lock=True)


async def require_free_seat(session: AsyncSession, *, org_id: uuid.UUID) -> Seats:
    """Lock the seats and refuse with SeatLimitReached when they are all held."""
    seats = await lock_seats(session, org_id=org_id)
    if seats.full:
        raise SeatLimitReached(f"all {seats.limit} seats of this workspace are taken")
    return seats


async def read_seats(session: AsyncSession, *, org_id: uuid.UUID) -> Seats:
    """The seats as they stand (no lock)."""
    return await _seats(session, org_id, lock=False)
