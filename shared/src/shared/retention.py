"""Housekeeping of the plumbing tables: sent outbox rows and old inbox entries are pruned.

Without it both tables grow forever. Sent outbox rows are only history once published; inbox
entries guard against redelivery, which happens within minutes (a rebalance, a restart), so two
weeks is generous — and the natural unique keys still stand behind the inbox after that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import text

from shared.db.session import Database

log = logging.getLogger(__name__)


async def prune_sent_outbox(database: Database, *, older_than: timedelta) -> int:
    """Delete outbox rows published more than `older_than` ago; returns how many."""
    async with database.engine.begin() as connection:
        result = await connection.execute(
            text("DELETE FROM outbox WHERE sent_at < now() - CAST(:age AS interval)"), {"age": older_than}
        )
    return int(result.rowcount or 0)


async def prune_inbox(database: Database, *, older_than: timedelta) -> int:
    """Delete inbox entries recorded more than `older_than` ago; returns how many."""
    async with database.engine.begin() as connection:
        result = await connection.execute(
            text("DELETE FROM inbox WHERE processed_at < now() - CAST(:age AS interval)"), {"age": older_than}
        )
    return int(result.rowcount or 0)


@dataclass
class Housekeeper:
    """Prunes both tables now and then, beside the service."""

    database: Database
    outbox_retention: timedelta
    inbox_retention: timedelta
    interval_seconds: float = 600
    _task: asyncio.Task[None] | None = field(default=None, init=False)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="housekeeping")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run_once(self) -> tuple[int, int]:
        sent = await prune_sent_outbox(self.database, older_than=self.outbox_retention)
        seen = await prune_inbox(self.database, older_than=self.inbox_retention)
        if sent or seen:
            log.info("pruned %d sent outbox rows and %d inbox entries", sent, seen)
        return sent, seen

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # the database may be away; try again next round
                log.exception("housekeeping failed")
            await asyncio.sleep(self.interval_seconds)
