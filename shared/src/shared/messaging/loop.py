"""The consumer loop a service process runs: one lane per partition, partitions in parallel.

One aiokafka consumer per process reads every topic the service subscribes to, in the service's
consumer group (replicas share the partitions). Fetching never stops for a partition that is
being applied: each fetch's records join their partition's *lane*, a queue with one task that
applies it in offset order, as one batch whatever has queued up meanwhile (up to `max_batch`).
So one partition's records — and one key's, since a key maps to one partition — are applied
strictly in order while other partitions go on, and a busy partition's next batch is already
waiting when its transaction commits. After a batch's transaction commits, its offsets are
committed (by one committer task that coalesces every lane's offsets into one request); a
record that could not be applied because a dependency is down is sought back to and comes again
after a pause. A partition taken away by a rebalance is handed over only after
its batch in flight has finished and committed; what was queued behind it is dropped (the new
owner reads it from the committed offset).

Why lanes and not pause-while-applying: aiokafka sends one fetch at a time to a broker, and a
partition resumed while a fetch is in flight waits for that fetch to come back — up to
`fetch_max_wait_ms` (500 ms) when the other partitions are quiet. Paused partitions made every hop
of the signup flow wait for that at moderate rates (webhook → claims p50 215 ms at 50/s; see
docs/performance.md). A lane is paused only as back-pressure, when `max_buffered` records wait.

We use aiokafka directly rather than FastStream's batch subscriber: that one hands over records
of all partitions as one list and acknowledges them together, while isolating a partition
(seek back, commit only its own offsets) is what keeps the others moving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Iterable, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from shared.messaging.consumer import EventConsumer, Record
from shared.messaging.kafka_connection import KafkaTarget, as_connection
from shared.metrics import CONSUMER_LAG, CONSUMER_REBALANCES, OFFSET_COMMIT_FAILURES

log = logging.getLogger(__name__)

_LAG_EVERY_SECONDS = 1.0  # the lag gauge is refreshed by the fetch loop at most this often


class ConsumerLoop:
    """Runs a service's `EventConsumer`s (one per topic) on one Kafka consumer."""

    def __init__(
        self,
        *,
        kafka: KafkaTarget,
        group_id: str,
        client_id: str,
        consumers: Sequence[EventConsumer],
        max_batch: int = 500,
        max_buffered: int = 5000,
        redelivery_pause_seconds: float = 1.0,
        commit_interval_seconds: float = 0.1,
    ) -> None:
        self._by_topic = {consumer.topic: consumer for consumer in consumers}
        self._max_batch = max_batch
        self._max_buffered = max_buffered
        self._redelivery_pause = redelivery_pause_seconds
        self._commit_interval = commit_interval_seconds
        self._lanes: dict[TopicPartition, _Lane] = {}
        self._name = consumers[0].name if consumers else group_id
        self._committed: dict[TopicPartition, int] = {}
        self._lag_measured_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self._committer: _OffsetCommitter | None = None
        self._kafka = AIOKafkaConsumer(
            **as_connection(kafka).client_kwargs(),
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
        self._committer = _OffsetCommitter(self._kafka, interval=self._commit_interval, name=self._name)
        self._task = asyncio.create_task(self._run(), name=f"consume {','.join(self.topics)}")

    async def stop(self) -> None:
        """Stop fetching, let batches in flight finish and commit, then leave the group."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close_lanes(list(self._lanes))
        if self._committer is not None:
            await self._committer.close()
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
                if records and partition in self._kafka.assignment():
                    self._lane(partition).add(records)
            await self._measure_lag()

    async def _measure_lag(self) -> None:
        """Per topic, this replica's records not yet applied: highwater minus committed offset.

        Before anything was committed on a partition its fetch position stands in. Errors are
        ignored: a gauge must never stop the loop.
        """
        now = time.monotonic()
        if now - self._lag_measured_at < _LAG_EVERY_SECONDS:
            return
        self._lag_measured_at = now
        lag = dict.fromkeys(self.topics, 0)
        try:
            for partition in self._kafka.assignment():
                highwater = self._kafka.highwater(partition)
                if highwater is None:
                    continue
                done = self._committed.get(partition)
                if done is None:
                    done = await self._kafka.position(partition)
                lag[partition.topic] += max(0, highwater - done)
        except Exception as error:
            log.debug("consumer lag not measured (%r)", error)
            return
        for topic, records in lag.items():
            CONSUMER_LAG.labels(self._name, topic).set(records)

    def _lane(self, partition: TopicPartition) -> _Lane:
        lane = self._lanes.get(partition)
        if lane is None:
            lane = self._lanes[partition] = _Lane(self, partition, self._by_topic[partition.topic])
        return lane

    async def _close_lanes(self, partitions: Iterable[TopicPartition]) -> None:
        """Finish the batches in flight on `partitions` and commit their offsets; drop the rest."""
        partitions = list(partitions)
        lanes = [lane for tp in partitions if (lane := self._lanes.pop(tp, None)) is not None]
        if lanes:
            await asyncio.gather(*(lane.close() for lane in lanes))
        if self._committer is not None:
            await self._committer.flush()
        for tp in partitions:
            self._committed.pop(tp, None)  # another replica owns (and measures) it now

    # --- what lanes ask of the Kafka consumer ---------------------------------------------------

    def commit(self, partition: TopicPartition, offset: int) -> None:
        """`offset` is applied and committed in the database: commit it to Kafka (coalesced)."""
        assert self._committer is not None
        self._committed[partition] = offset  # what the lag gauge measures from
        self._committer.report(partition, offset)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        if partition in self._kafka.assignment():
            self._kafka.seek(partition, offset)

    def set_paused(self, partition: TopicPartition, paused: bool) -> None:
        if partition not in self._kafka.assignment():
            return
        if paused:
            self._kafka.pause(partition)
        else:
            self._kafka.resume(partition)


class _Lane:
    """One partition's records waiting to be applied, and the task that applies them in order."""

    def __init__(self, loop: ConsumerLoop, partition: TopicPartition, consumer: EventConsumer) -> None:
        self._loop = loop
        self._partition = partition
        self._consumer = consumer
        self._pending: deque[Record] = deque()
        self._ready = asyncio.Event()
        self._paused = False
        self._applying: asyncio.Task[None] | None = None
        self._task = asyncio.create_task(self._run(), name=f"lane {partition.topic}-{partition.partition}")

    def add(self, records: Sequence[Record]) -> None:
        self._pending.extend(records)
        self._ready.set()
        if not self._paused and len(self._pending) >= self._loop._max_buffered:
            self._paused = True  # back-pressure: fetch no more until the lane catches up
            self._loop.set_paused(self._partition, True)

    async def close(self) -> None:
        """Let the batch in flight finish and commit; drop what waits behind it."""
        self._pending.clear()
        if self._applying is not None:
            _, late = await asyncio.wait([self._applying], timeout=30)
            for task in late:  # stuck behind an outage: its records are simply redelivered
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            if not self._pending:
                self._ready.clear()
                continue
            size = min(len(self._pending), self._loop._max_batch)
            records = [self._pending.popleft() for _ in range(size)]
            # Shielded: a hand-over waits for it to commit instead of cancelling it half-way.
            self._applying = asyncio.ensure_future(self._apply(records))
            try:
                await asyncio.shield(self._applying)
            finally:
                self._applying = None
            if self._paused and len(self._pending) < self._loop._max_buffered // 2:
                self._paused = False
                self._loop.set_paused(self._partition, False)

    async def _apply(self, records: list[Record]) -> None:
        """Apply one batch, commit what was applied, come back for the rest."""
        resume_at = records[0].offset
        try:
            resume_at = await self._consumer.handle_batch(records)
        except Exception:
            # Unexpected (e.g. the dead-letter topic unreachable): everything comes again; what
            # was applied already is skipped as a duplicate.
            log.exception("batch on %s failed; it will be delivered again", self._partition)
        if resume_at > records[0].offset:
            self._loop.commit(self._partition, resume_at)
        if resume_at <= records[-1].offset:
            # Redeliver from the first record not applied: what queued behind it goes too.
            self._pending.clear()
            self._loop.seek(self._partition, resume_at)
            await asyncio.sleep(self._loop._redelivery_pause)


class _OffsetCommitter:
    """Commits the offsets lanes report, coalesced: one request carries every partition's newest.

    aiokafka serialises a consumer's commits behind one lock, one broker round trip each; a lane
    that awaited its own commit waited for every other lane's too. Lanes now report and go on to
    their next batch; this task commits whatever has been reported since its last request. An
    offset is reported only after its batch's transaction committed, so commit-after-effect holds;
    a commit that fails (a rebalance, the broker gone) means redelivery, which the inbox absorbs.

    After a request it waits `interval` before the next, so a steady trickle of one-record batches
    costs the broker (and this process) a few commits a second, not one per batch: at 50 signups/s
    the commits were a third of the broker's requests (docs/performance.md, issue 17). The price is
    at most `interval` of records redelivered after a crash — duplicates the inbox absorbs. A
    hand-over or shutdown (`flush`) commits at once.
    """

    def __init__(self, kafka: AIOKafkaConsumer, *, interval: float, name: str) -> None:
        self._kafka = kafka
        self._failures = OFFSET_COMMIT_FAILURES.labels(name)
        self._interval = interval
        self._flushing = asyncio.Event()
        self._pending: dict[TopicPartition, int] = {}
        self._reported = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task = asyncio.create_task(self._run(), name="offset-committer")

    def report(self, partition: TopicPartition, offset: int) -> None:
        self._pending[partition] = max(offset, self._pending.get(partition, 0))
        self._idle.clear()
        self._reported.set()

    async def flush(self) -> None:
        """Wait until everything reported so far is committed (or its commit has failed)."""
        self._flushing.set()  # no pause before the next request
        try:
            await self._idle.wait()
        finally:
            self._flushing.clear()

    async def close(self) -> None:
        await self.flush()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        while True:
            await self._reported.wait()
            self._reported.clear()
            offsets, self._pending = self._pending, {}
            offsets = {tp: offset for tp, offset in offsets.items() if tp in self._kafka.assignment()}
            try:
                if offsets:
                    await self._kafka.commit(offsets)
            except KafkaError as error:
                # Lost the partitions or the broker: the new owner gets these records again,
                # and the inbox makes them duplicates.
                log.warning("offset commit of %s failed (%r); records will be redelivered", offsets, error)
                self._failures.inc()
            except Exception:  # the committer must outlive anything a commit can raise
                log.exception("offset commit of %s failed; records will be redelivered", offsets)
                self._failures.inc()
            if not self._pending:
                self._idle.set()
            if not self._flushing.is_set():  # a pause before the next request, unless flushing
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel that comes
                # as the event is set (a flush then close), and `close` would wait for ever.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._interval):
                        await self._flushing.wait()


class _HandOver(ConsumerRebalanceListener):  # type: ignore[misc]
    """Before partitions move to another replica, finish and commit what is in flight on them."""

    def __init__(self, loop: ConsumerLoop) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self._loop._close_lanes(revoked)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        CONSUMER_REBALANCES.labels(self._loop._name).inc()
