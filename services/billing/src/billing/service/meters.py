"""Usage meters: sessions per calendar month (UTC) and the scenarios gauge.

The hot path (`consume_sessions`) is one call of the SQL function `use_sessions` (revision 0006),
on a plain asyncpg pool: one round trip. Scenario reservations go through the session: one short
transaction: the tenant setting, then ONE statement that
claims the idempotency key, reads the org's limit (its plan's row in `plan_limits`) and adds the
use only if it fits, then one
update that records the answer. Atomicity comes from PostgreSQL itself: `INSERT … ON CONFLICT DO
UPDATE … WHERE used + n <= limit` locks the counter row and re-checks the condition against the
newest committed value, so concurrent uses can never pass the limit; a second use of one key
waits on the key's unique index and then finds it taken. No lock is held across round trips
beyond that single transaction, and the month rolls over by itself: a new month is a new row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from billing.catalog import load_catalog
from billing.errors import OrgNotFound, ReservationNotFound
from shared.db.tables import utcnow
from shared.db.tenancy import InvalidTenant, set_tenant, tenant_text
from shared.metrics import QUOTA_REFUSALS, count_on_commit, declare_series

SESSIONS = "sessions"
SCENARIOS = "scenarios"
SCENARIOS_RELEASE = "scenarios.release"
declare_series(QUOTA_REFUSALS, (SESSIONS,), (SCENARIOS,))  # at 0 from the start
# Gauges have one everlasting period.
GAUGE_PERIOD = date(1970, 1, 1)
# The `plan_limits` column each metered use is checked against.
_LIMIT_COLUMN = {SESSIONS: "sessions_per_month", SCENARIOS: "scenarios"}


@dataclass(frozen=True)
class MeterAnswer:
    """The answer to one use; the same key always gets the same one."""

    accepted: bool
    used: int
    limit: int | None
    period: date
    upgrade_to: str | None = None

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.used, 0)

    @property
    def resets_at(self) -> datetime:
        return next_month(self.period)


def month_of(moment: datetime) -> date:
    """The calendar month (UTC) a moment falls in, as its first day."""
    moment = moment.astimezone(UTC)
    return date(moment.year, moment.month, 1)


def next_month(period: date) -> datetime:
    year, month = (period.year + 1, 1) if period.month == 12 else (period.year, period.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def _use_statement(meter: str) -> str:
    limit = _LIMIT_COLUMN[meter]
    return (
        "WITH claim AS ("
        "  INSERT INTO meter_uses (org_id, meter, idempotency_key, quantity, period)"
        "  VALUES (:org_id, :meter, :key, :quantity, :period)"
        "  ON CONFLICT DO NOTHING RETURNING 1"
        "), cap AS ("
        f"  SELECT p.{limit} AS value FROM subscriptions s JOIN plan_limits p ON p.plan = s.plan"
        "  WHERE s.org_id = :org_id"
        "), bump AS ("
        "  INSERT INTO usage_counters AS c (org_id, meter, period, used, last_limit)"
        "  SELECT :org_id, :meter, :period, :quantity, cap.value FROM claim, cap"
        "  WHERE cap.value IS NULL OR :quantity <= cap.value"
        "  ON CONFLICT (org_id, meter, period) DO UPDATE"
        "  SET used = c.used + excluded.used, last_limit = excluded.last_limit"
        "  WHERE excluded.last_limit IS NULL OR c.used + excluded.used <= excluded.last_limit"
        "  RETURNING c.used, c.last_limit"
        ") SELECT EXISTS (SELECT 1 FROM claim) AS claimed, (SELECT used FROM bump) AS used,"
        " (SELECT last_limit FROM bump) AS checked_limit, EXISTS (SELECT 1 FROM bump) AS accepted"
    )


_USE = {SCENARIOS: text(_use_statement(SCENARIOS))}
_USE_SESSIONS = "SELECT * FROM use_sessions($1, $2, $3, $4, $5)"
_REMEMBER = text(
    "UPDATE meter_uses SET accepted = :accepted, used = :used, limit_at_use = :limit, "
    "upgrade_to = :upgrade_to "
    "WHERE org_id = :org_id AND meter = :meter AND idempotency_key = :key"
)
_EARLIER = text(
    "SELECT accepted, used, limit_at_use, upgrade_to, period FROM meter_uses "
    "WHERE org_id = :org_id AND meter = :meter AND idempotency_key = :key"
)
_STANDING = text(
    "SELECT s.plan, p.sessions_per_month, p.scenarios, "
    "(SELECT used FROM usage_counters u WHERE u.org_id = s.org_id AND u.meter = :meter "
    " AND u.period = :period) AS used "
    "FROM subscriptions s JOIN plan_limits p ON p.plan = s.plan WHERE s.org_id = :org_id"
)
# A release claims its key only if the same key holds an accepted reservation: it gives back that
# reservation and no other, once (the release's own row, under meter `scenarios.release`).
_CLAIM_RELEASE = text(
    "INSERT INTO meter_uses (org_id, meter, idempotency_key, quantity, period) "
    "SELECT CAST(:org_id AS varchar), CAST(:meter AS varchar), CAST(:key AS varchar), 1,"
    " CAST(:period AS date) WHERE EXISTS ("
    "  SELECT 1 FROM meter_uses r WHERE r.org_id = :org_id AND r.meter = :reserved"
    "  AND r.idempotency_key = :key AND r.accepted"
    ") ON CONFLICT DO NOTHING RETURNING 1"
)
_RELEASE = text(
    "UPDATE usage_counters SET used = greatest(used - :quantity, 0) "
    "WHERE org_id = :org_id AND meter = :meter AND period = :period RETURNING used"
)


async def consume_sessions(
    pool: Any,
    *,
    org_id: str,
    quantity: int,
    idempotency_key: str,
    member: str | None,
    now: datetime | None = None,
) -> MeterAnswer:
    """Count `quantity` practice sessions against this calendar month's limit (UTC).

    The product's hot path: one call of `use_sessions` (revision 0006) on the plain pool — its own
    transaction, one round trip — that does what `_use` does for scenarios. `member` is the
    calling person's user id (they must be a member), None for a trusted backend.
    """
    period = month_of(now or utcnow())
    try:
        # `use_sessions` sets the tenant from this text itself: never anything but an org id.
        org_id = tenant_text(org_id)
    except InvalidTenant as error:
        raise OrgNotFound("org not found") from error
    try:
        row = await pool.fetchrow(_USE_SESSIONS, org_id, idempotency_key, quantity, period, member)
    except asyncpg.NoDataFoundError as error:
        raise OrgNotFound(f"org {org_id} not found") from error
    if row["outcome"] == "no_org":
        raise OrgNotFound(f"org {org_id} not found")
    if row["outcome"] == "refused":
        QUOTA_REFUSALS.labels(SESSIONS).inc()  # its own transaction has committed already
    return MeterAnswer(
        accepted=row["outcome"] == "accepted",
        used=row["used"],
        limit=row["lim"],
        period=row["period"],
        upgrade_to=row["upgrade_to"],
    )


async def reserve_scenario(session: AsyncSession, *, org_id: str, idempotency_key: str) -> MeterAnswer:
    """Hold one scenario against the plan's scenario limit."""
    return await _use(
        session,
        org_id=org_id,
        meter=SCENARIOS,
        quantity=1,
        idempotency_key=idempotency_key,
        period=GAUGE_PERIOD,
    )


async def release_scenario(session: AsyncSession, *, org_id: str, idempotency_key: str) -> MeterAnswer:
    """Give back the scenario that `/reserve` with the same key holds, once: a repeat gets the
    first answer; a key that holds no reservation (never used, or refused) → 404
    `reservation_not_found` and nothing changes."""
    params = {"org_id": org_id, "meter": SCENARIOS_RELEASE, "key": idempotency_key, "period": GAUGE_PERIOD}
    await set_tenant(session, org_id)
    claimed = (await session.execute(_CLAIM_RELEASE, {**params, "reserved": SCENARIOS})).first()
    if claimed is None:
        earlier = await _earlier_answer(session, params)
        if earlier is not None:
            return earlier
        await _standing(session, org_id=org_id, meter=SCENARIOS, period=GAUGE_PERIOD)  # 404: no org
        raise ReservationNotFound(f"no scenario is reserved under the key {idempotency_key!r}")
    _, limit, used = await _standing(session, org_id=org_id, meter=SCENARIOS, period=GAUGE_PERIOD)
    if used:
        row = (
            await session.execute(
                _RELEASE, {"org_id": org_id, "meter": SCENARIOS, "period": GAUGE_PERIOD, "quantity": 1}
            )
        ).first()
        used = row[0] if row else 0
    answer = MeterAnswer(accepted=True, used=used, limit=limit, period=GAUGE_PERIOD)
    await _remember(session, params, answer)
    return answer


async def _use(
    session: AsyncSession, *, org_id: str, meter: str, quantity: int, idempotency_key: str, period: date
) -> MeterAnswer:
    params = {"org_id": org_id, "meter": meter, "key": idempotency_key, "period": period}
    await set_tenant(session, org_id)
    row = (await session.execute(_USE[meter], {**params, "quantity": quantity})).one()
    if not row.claimed:
        earlier = await _earlier_answer(session, params)
        assert earlier is not None  # the claim conflicted with this very row
        return earlier
    if row.accepted:
        # Answered with the limit the use was checked against (the plan's at that moment).
        answer = MeterAnswer(accepted=True, used=row.used, limit=row.checked_limit, period=period)
    else:
        plan, limit, used = await _standing(session, org_id=org_id, meter=meter, period=period)
        count_on_commit(session, QUOTA_REFUSALS.labels(meter))
        answer = MeterAnswer(
            accepted=False,
            used=used,
            limit=limit,
            period=period,
            upgrade_to=load_catalog().get(plan).upgrade_to,
        )
    await _remember(session, params, answer)
    return answer


async def _standing(
    session: AsyncSession, *, org_id: str, meter: str, period: date
) -> tuple[str, int | None, int]:
    row = (await session.execute(_STANDING, {"org_id": org_id, "meter": meter, "period": period})).first()
    if row is None:
        raise OrgNotFound(f"org {org_id} not found")
    limit = row.sessions_per_month if meter == SESSIONS else row.scenarios
    return row.plan, limit, row.used or 0


async def _remember(session: AsyncSession, params: dict[str, object], answer: MeterAnswer) -> None:
    await session.execute(
        _REMEMBER,
        {
            **params,
            "accepted": answer.accepted,
            "used": answer.used,
            "limit": answer.limit,
            "upgrade_to": answer.upgrade_to,
        },
    )


async def _earlier_answer(session: AsyncSession, params: dict[str, object]) -> MeterAnswer | None:
    row = (await session.execute(_EARLIER, params)).first()
    if row is None:
        return None
    return MeterAnswer(
        accepted=bool(row.accepted),
        used=row.used,
        limit=row.limit_at_use,
        period=row.period,
        upgrade_to=row.upgrade_to,
    )
