"""The consumer loop a service process runs: batches per partition, partitions in parallel.

One aiokafka consumer per process reads every topic the service subscribes to, in the service's
consumer group (replicas share the partitions). Each fetch hands every partition's records to
its `EventConsumer` as one batch; while a batch is being applied, its partition is paused, so
one partition's records are applied strictly in order (and one key's, since a key maps to one
partition), while other partitions go on. After the batch's transaction commits, its offsets are
committed; a record that could not be applied because a dependency is down is sought back to
and comes again after a pause. A partition taken away by a rebalance is handed over only after
its batch in flight has finished and committed.

We use aiokafka directly rather than FastStream's batch subscriber: that one hands over records
of all partitions as one list and acknowledges them together, while isolating a partition
(pause, seek back, commit only its own offsets) is what keeps the others moving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from shared.messaging.consumer import EventConsumer, Record

log = logging.getLogger(__name__)


class ConsumerLoop:
    """Runs a service's `EventConsumer`s (one per topic) on one Kafka consumer."""

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        group_id: str,
        client_id: str,
        consumers: Sequence[EventConsumer],
        max_batch: int = 500,
        redelivery_pause_seconds: float = 1.0,
    ) -> None:
        self._by_topic = {consumer.topic: consumer for consumer in consumers}
        self._max_batch = max_batch
        self._redelivery_pause = redelivery_pause_seconds
        self._inflight: dict[TopicPartition, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._kafka = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            client_id=client_id,
            enable_auto_commit=False,  # committed by us, after the effect's transaction
            auto_offset_reset="earliest",
            max_poll_records=max_batch,
            # A replica killed with -9 leaves no LeaveGroup behind: its partitions move only when
            # its session expires. 6 s (aiokafka's default is 10 s) keeps recovery inside DESIGN §10.
            session_timeout_ms=6000,
            heartbeat_interval_ms=1000,
        )

    @property
    def topics(self) -> list[str]:
        return list(self._by_topic)

    async def start(self) -> None:
        """Join the group (raises if the broker cannot be reached) and start consuming."""
        self._kafka.subscribe(topics=self.topics, listener=_HandOver(self))
        await self._kafka.start()
        self._task = asyncio.create_task(self._run(), name=f"consume {','.join(self.topics)}")

    async def stop(self) -> None:
        """Stop fetching, let batches in flight finish and commit, then leave the group."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._finish(list(self._inflight))
        await self._kafka.stop()

    async def _run(self) -> None:
        while True:
            try:
                batches = await self._kafka.getmany(timeout_ms=1000)
            except Exception as error:  # the loop must outlive anything a fetch can raise
                log.warning("fetch failed (%r); trying again", error)
                await asyncio.sleep(self._redelivery_pause)
                continue
            for partition, records in batches.items():
                if records:
                    self._kafka.pause(partition)
                    self._inflight[partition] = asyncio.create_task(self._apply(partition, records))

    async def _apply(self, partition: TopicPartition, records: list[Record]) -> None:
        """Apply one partition's batch, commit what was applied, come back for the rest."""
        resume_at = records[0].offset
        try:
            resume_at = await self._by_topic[partition.topic].handle_batch(records)
        except Exception:
            # Unexpected (e.g. the dead-letter topic unreachable): everything comes again; what
            # was applied already is skipped as a duplicate.
            log.exception("batch on %s failed; it will be delivered again", partition)
        try:
            if resume_at > records[0].offset:
                await self._commit(partition, resume_at)
            if resume_at <= records[-1].offset:
                self._seek(partition, resume_at)
                await asyncio.sleep(self._redelivery_pause)
        finally:
            self._inflight.pop(partition, None)
            if partition in self._kafka.assignment():
                self._kafka.resume(partition)

    async def _commit(self, partition: TopicPartition, offset: int) -> None:
        try:
            await self._kafka.commit({partition: offset})
        except KafkaError as error:
            # Lost the partition or the broker: the new owner gets these records again, and
            # the inbox makes them duplicates.
            log.warning("offset commit on %s failed (%r); records will be redelivered", partition, error)

    def _seek(self, partition: TopicPartition, offset: int) -> None:
        if partition in self._kafka.assignment():
            self._kafka.seek(partition, offset)

    async def _finish(self, partitions: Iterable[TopicPartition]) -> None:
        """Wait for the batches in flight on `partitions` (they commit their own offsets)."""
        tasks = [self._inflight[tp] for tp in partitions if tp in self._inflight]
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=30)
        for task in late:  # stuck behind an outage: its records are simply redelivered
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)


class _HandOver(ConsumerRebalanceListener):  # type: ignore[misc]
    """Before partitions move to another replica, finish and commit what is in flight on them."""

    def __init__(self, loop: ConsumerLoop) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self._loop._finish(revoked)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        return None
