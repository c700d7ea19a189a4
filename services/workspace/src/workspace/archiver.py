"""The in-process job that archives idle personal orgs (DESIGN.md flow 8), beside the service.

Each round is one transaction per batch; several replicas can run it at once (a candidate locked
by another is skipped, an archived one is not archived twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from shared.db.session import Database
from workspace.service.lifecycle import archive_idle_personal_orgs

log = logging.getLogger(__name__)


@dataclass
class Archiver:
    database: Database
    idle_for: timedelta
    interval_seconds: float
    batch: int = 200
    _task: asyncio.Task[None] | None = field(default=None, init=False)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="archive-idle-orgs")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run_once(self) -> int:
        """Archive every personal org idle past the threshold; how many were archived."""
        total = 0
        while True:
            async with self.database.unit_of_work() as session:
                archived = await archive_idle_personal_orgs(session, idle_for=self.idle_for, limit=self.batch)
            total += len(archived)
            if len(archived) < self.batch:
                break
        if total:
            log.info("archived %d idle personal orgs", total)
        return total

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # the database may be away; try again next round
                log.exception("archiving idle orgs failed")
            await asyncio.sleep(self.interval_seconds)
