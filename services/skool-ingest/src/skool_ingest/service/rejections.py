"""Refused deliveries are counted by reason, never stored (nothing of theirs is trusted).

A refusal costs the request no database work: it is counted in this process's memory, and a
background task adds the counts to `skool_rejections` in one statement every
`rejection_flush_seconds` (and once more at shutdown). An unauthenticated flood of bad
signatures therefore never queues on that table's rows. Reading the totals waits for a flush in
progress, then adds this process's counts not yet written to the table's: exact for this replica,
other replicas' refusals show within their flush interval (docs/skool.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT, TEXT
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.session import Database

log = logging.getLogger(__name__)

_ADD = text(
    "INSERT INTO skool_rejections (reason, count) "
    "SELECT * FROM unnest(CAST(:reasons AS text[]), CAST(:counts AS bigint[])) "
    "ON CONFLICT (reason) DO UPDATE "
    "SET count = skool_rejections.count + excluded.count, last_at = now()"
).bindparams(bindparam("reasons", type_=ARRAY(TEXT)), bindparam("counts", type_=ARRAY(BIGINT)))
_READ = text("SELECT reason, count AS n FROM skool_rejections ORDER BY reason")


class RejectionCounter:
    """This process's refusals not yet in the table, and the task that writes them there."""

    def __init__(self, *, database: Database | None = None, flush_seconds: float = 1.0) -> None:
        self.database = database  # set by the app once the runtime has started
        self._flush_seconds = flush_seconds
        self._pending: Counter[str] = Counter()
        # Held while a flush writes and while the totals are read, so a read never sees counts
        # both in the table and still pending (or in neither).
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def count(self, reason: str) -> None:
        """One more delivery refused for `reason`: memory only, no I/O."""
        self._pending[reason] += 1

    async def flush(self) -> int:
        """Add the pending counts to the table in one statement; returns how many were written.
        If the write fails, the counts stay pending for the next flush."""
        if self.database is None:
            return 0
        async with self._lock:
            if not self._pending:
                return 0
            batch, self._pending = self._pending, Counter()
            try:
                async with self.database.unit_of_work() as session:
                    await session.execute(_ADD, {"reasons": list(batch), "counts": [batch[r] for r in batch]})
            except BaseException:
                self._pending.update(batch)
                raise
            return sum(batch.values())

    async def totals(self, session: AsyncSession) -> dict[str, int]:
        """Refused deliveries so far, by reason: the table's plus this process's pending ones."""
        async with self._lock:
            counts: Counter[str] = Counter({row.reason: int(row.n) for row in await session.execute(_READ)})
            counts.update(self._pending)
        return dict(sorted(counts.items()))

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._flush_seconds)
            try:
                await self.flush()
            except Exception as error:  # database down: the counts wait for the next round
                log.warning("skool rejection counts not written yet: %r", error)

    def start(self, database: Database) -> None:
        self.database = database
        self._task = asyncio.create_task(self._flush_periodically(), name="skool-rejection-flush")

    async def stop(self) -> None:
        """Stop the task and write what is pending (best effort: the database may be down)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self.flush()
        except Exception as error:
            log.warning("skool rejection counts lost at shutdown: %r", error)
