"""Group commit: the items of concurrent requests written in one transaction, then each answered.

A webhook endpoint under a burst spends most of its time on round trips and per-statement
overhead: BEGIN, two or three inserts, COMMIT, per delivery. Requests hand their item to a
`GroupCommit` instead and wait; a writer task takes everything that has queued up meanwhile and
applies it with one `apply(session, items)` call in one transaction (set-based statements), so
a burst of N deliveries costs a few statements, not 5·N. Nothing waits on a timer: a lone item
is written at once, and items queue only while a transaction is already in flight.

The commit point of such a request is the writer's transaction: a request is answered only after
the transaction holding its item has committed (or with the error that stopped it). If a batch's
transaction fails, its items are retried one per transaction, so one bad item fails only its own
request. `apply` must return one result per item, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.session import Database

log = logging.getLogger(__name__)

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")

Apply = Callable[[AsyncSession, Sequence[ItemT]], Awaitable[Sequence[ResultT]]]


class GroupCommit(Generic[ItemT, ResultT]):
    """Writes submitted items in shared transactions; `submit` returns the item's own result."""

    def __init__(
        self,
        *,
        name: str,
        database: Database,
        apply: Apply[ItemT, ResultT],
        max_batch: int = 256,
        writers: int = 2,
    ) -> None:
        self._name = name
        self._database = database
        self._apply = apply
        self._max_batch = max_batch
        self._writers = writers
        self._queue: asyncio.Queue[tuple[ItemT, asyncio.Future[ResultT]]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    async def submit(self, item: ItemT) -> ResultT:
        """Queue `item` for the next transaction and wait until it has committed."""
        if not self._tasks:
            # Two writers: while one transaction commits, the next batch is already being written.
            self._tasks = [
                asyncio.create_task(self._write(), name=f"{self._name} writer {n}")
                for n in range(self._writers)
            ]
        done: asyncio.Future[ResultT] = asyncio.get_running_loop().create_future()
        await self._queue.put((item, done))
        return await done

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        while not self._queue.empty():
            _, done = self._queue.get_nowait()
            done.cancel()

    async def _write(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            waiting = [(item, done) for item, done in batch if not done.done()]  # a caller may be gone
            try:
                await self._write_batch(waiting)
            except asyncio.CancelledError:
                for _, done in waiting:
                    done.cancel()
                raise

    async def _write_batch(self, batch: list[tuple[ItemT, asyncio.Future[ResultT]]]) -> None:
        if not batch:
            return
        try:
            results = await self._in_one_transaction([item for item, _ in batch])
        except Exception as error:
            if len(batch) == 1:
                if not batch[0][1].done():
                    batch[0][1].set_exception(error)
                return
            log.info(
                "%s: a batch of %d failed (%r); writing its items one by one", self._name, len(batch), error
            )
            for entry in batch:
                await self._write_batch([entry])
            return
        for (_, done), result in zip(batch, results, strict=True):
            if not done.done():
                done.set_result(result)

    async def _in_one_transaction(self, items: list[ItemT]) -> Sequence[ResultT]:
        async with self._database.unit_of_work() as session:
            return await self._apply(session, items)
