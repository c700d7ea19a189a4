"""The idempotent event consumer every service's handlers go through.

A batch is one partition's records, in offset order. It is applied in one transaction: one
statement claims every event id in the inbox, then the new events go to their handlers in order.
A handler takes one event; a hot one may be `Batched` instead: it then takes every run of
consecutive new events of its type at once, so it can write them with one statement per table
(the order across types is kept: a run ends where another type's event comes).
If anything in the batch fails, the transaction rolls back and the batch is retried record by
record, each in its own transaction with backoff and jitter (tenacity), so one poison record is
isolated: it goes to `<topic>.dlq` with its error and attempt count, and the records around it
still commit. Offsets are committed by the caller (`ConsumerLoop`) only after this returns.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeAlias

from aiokafka import ConsumerRecord
from opentelemetry.trace import SpanKind
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from shared.db.session import Database
from shared.errors import is_infrastructure_error
from shared.events.envelope import Envelope
from shared.inbox import claim_events
from shared.messaging.dlq import DeadLetterPublisher
from shared.metrics import DEAD_LETTERS, EVENTS_CONSUMED, HANDLER_LATENCY, HANDLER_RETRIES, declare_series
from shared.telemetry import span_from_traceparent

log = logging.getLogger(__name__)

EventHandler = Callable[[AsyncSession, Envelope], Awaitable[None]]
Record: TypeAlias = ConsumerRecord[bytes, bytes]


@dataclass(frozen=True)
class Batched:
    """A handler that applies a run of consecutive events of its type in one call (set-based SQL).

    It must do for the run exactly what it would do for each event alone, in order: the slow path
    (a batch that failed, retried record by record) calls it with one event at a time.
    """

    apply: Callable[[AsyncSession, Sequence[Envelope]], Awaitable[None]]


Handler: TypeAlias = EventHandler | Batched
BatchApply = Callable[[AsyncSession, Sequence[Envelope]], Awaitable[None]]


def batched_together(applies: Mapping[str, BatchApply]) -> dict[str, Batched]:
    """Handlers for several event types that interleave on a topic (a signup's `org.created` and
    `membership.added`) as ONE `Batched`, so a burst is one call per type, not one run per event.

    A run of them is split by type, and each type's events go to its function in their order,
    the types in the mapping's order. That reorders events of different types, so it is only for
    types whose effects do not depend on each other except in that order (`org.created` before
    `membership.added`: a membership is never applied before an org created ahead of it).
    Returns the handlers mapping to spread into a `Subscription`.
    """

    async def apply(session: AsyncSession, events: Sequence[Envelope]) -> None:
        for event_type, function in applies.items():
            of_type = [event for event in events if event.type == event_type]
            if of_type:
                await function(session, of_type)

    together = Batched(apply)
    return dict.fromkeys(applies, together)


class PermanentError(Exception):
    """The message can never be processed (bad data); retrying is pointless."""


class InfrastructureUnavailable(Exception):
    """Retries ran out because a dependency is unreachable; the record must be redelivered."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    initial_seconds: float = 0.05
    max_seconds: float = 2.0


@dataclass(frozen=True)
class _Work:
    """A record this consumer handles, parsed, with its handler."""

    record: Record
    envelope: Envelope
    handler: Handler


@dataclass
class EventConsumer:
    """Dispatches one topic's events to handlers by type, exactly once in effect."""

    name: str
    topic: str
    handlers: Mapping[str, Handler]
    database: Database
    dead_letters: DeadLetterPublisher
    retry: RetryPolicy = RetryPolicy()

    def __post_init__(self) -> None:
        declare_series(DEAD_LETTERS, (self.name, self.topic))
        for event_type in self.handlers:
            declare_series(HANDLER_RETRIES, (self.name, event_type))
            for result in ("applied", "duplicate"):
                declare_series(EVENTS_CONSUMED, (self.name, event_type, result))

    async def handle_batch(self, records: Sequence[Record]) -> int:
        """Apply one partition's records in order; returns the offset to resume from.

        That is the offset after the last record when every record was handled (applied,
        duplicate, ignored or dead-lettered), else the first record that could not be applied
        because a dependency is unreachable: it and the records after it must come again.
        """
        work = await self._parse(records)
        if work:
            try:
                await self._apply_batch(work)
            except Exception as error:
                log.info(
                    "%s: batch of %d on %s failed (%r); retrying record by record",
                    self.name,
                    len(work),
                    self.topic,
                    error,
                )
                for item in work:
                    try:
                        await self._apply_with_retries(item)
                    except InfrastructureUnavailable:
                        return int(item.record.offset)
        return int(records[-1].offset) + 1

    async def _parse(self, records: Sequence[Record]) -> list[_Work]:
        """The records this consumer handles; unparseable ones are dead-lettered at once."""
        work = []
        for record in records:
            try:
                envelope = Envelope.from_bytes(record.value or b"")
            except ValidationError as error:
                await self.dead_letters.publish(record, error=f"malformed envelope: {error}", attempts=1)
                DEAD_LETTERS.labels(self.name, self.topic).inc()
                continue
            handler = self.handlers.get(envelope.type)
            if handler is not None:  # else another consumer's event on a shared topic
                work.append(_Work(record, envelope, handler))
        return work

    async def _apply_batch(self, work: Sequence[_Work]) -> None:
        """The fast path: one transaction, one inbox statement, every new event in order."""
        async with self.database.unit_of_work() as session:
            fresh = await claim_events(
                session,
                consumer=self.name,
                events=[(item.envelope.id, item.envelope.type) for item in work],
            )
            new = []
            for item in work:
                if item.envelope.id in fresh:
                    fresh.discard(item.envelope.id)  # twice in one batch: apply it once
                    new.append(item)
            for run in _runs(new):
                await self._apply_run(session, run)
        # Counted once the transaction committed (a rolled-back batch is retried and counted then).
        _count_consumed(self.name, work, applied=new)

    async def _apply_run(self, session: AsyncSession, run: Sequence[_Work]) -> None:
        """Events that go to one handler call: a `Batched` handler's run, or a single event."""
        handler = run[0].handler
        started = time.perf_counter()
        with self._span(run):
            if isinstance(handler, Batched):
                await handler.apply(session, [item.envelope for item in run])
            else:
                await handler(session, run[0].envelope)
        HANDLER_LATENCY.labels(self.name, run[0].envelope.type).observe(time.perf_counter() - started)

    async def _apply_with_retries(self, item: _Work) -> None:
        """The slow path for one record: retried with backoff, dead-lettered when it keeps failing."""
        attempts = 0
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry.max_attempts),
            wait=wait_exponential_jitter(
                multiplier=self.retry.initial_seconds,
                jitter=self.retry.initial_seconds,
                max=self.retry.max_seconds,
            ),
            retry=retry_if_not_exception_type((PermanentError, ValidationError)),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    if attempts > 1:
                        HANDLER_RETRIES.labels(self.name, item.envelope.type).inc()
                    await self._apply_once(item)
        except RetryError as exhausted:
            error = exhausted.last_attempt.exception()
            if is_infrastructure_error(error):
                # The database or broker is down, not the message bad: leave the offset
                # uncommitted so the record is redelivered once the world is back.
                raise InfrastructureUnavailable(repr(error)) from error
            await self._dead_letter(item, error=error, attempts=attempts)
        except (PermanentError, ValidationError) as error:
            await self._dead_letter(item, error=error, attempts=attempts)

    async def _apply_once(self, item: _Work) -> None:
        async with self.database.unit_of_work() as session:
            fresh = await claim_events(
                session, consumer=self.name, events=[(item.envelope.id, item.envelope.type)]
            )
            if fresh:
                await self._apply_run(session, [item])
        _count_consumed(self.name, [item], applied=[item] if fresh else [])

    async def _dead_letter(self, item: _Work, *, error: BaseException | None, attempts: int) -> None:
        log.warning(
            "%s: %s %s failed %d times, dead-lettered: %r",
            self.name,
            item.envelope.type,
            item.envelope.id,
            attempts,
            error,
        )
        await self.dead_letters.publish(item.record, error=repr(error), attempts=attempts)
        DEAD_LETTERS.labels(self.name, self.topic).inc()

    @contextmanager
    def _span(self, run: Sequence[_Work]) -> Iterator[None]:
        """The consumer span, a child of the (first) producer's trace, so outbox rows carry it on.

        A batched handler's run gets one span; its outbox rows name each cause's own trace
        (`NewEvent.traceparent`), so every signup's trace still runs through every service.
        """
        first = run[0]
        envelope = first.envelope
        attributes = {
            "messaging.system": "kafka",
            "messaging.destination.name": self.topic,
            "messaging.message.id": str(envelope.id),
            "messaging.batch.message_count": str(len(run)),
            "event.type": envelope.type,
        }
        with span_from_traceparent(
            f"{self.name} handle {envelope.type}",
            _header(first.record, "traceparent") or envelope.traceparent,
            kind=SpanKind.CONSUMER,
            attributes=attributes,
        ):
            yield


def _count_consumed(consumer: str, work: Sequence[_Work], *, applied: Sequence[_Work]) -> None:
    """Count each handled record as applied or duplicate (already in the inbox)."""
    applied_ids = {id(item) for item in applied}
    for item in work:
        result = "applied" if id(item) in applied_ids else "duplicate"
        EVENTS_CONSUMED.labels(consumer, item.envelope.type, result).inc()


def _runs(items: Sequence[_Work]) -> Iterator[list[_Work]]:
    """Split in order into handler calls: consecutive events of one `Batched` handler go together."""
    run: list[_Work] = []
    for item in items:
        if run and (not isinstance(item.handler, Batched) or item.handler is not run[0].handler):
            yield run
            run = []
        run.append(item)
    if run:
        yield run


def _header(record: Record, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return str(value.decode(errors="replace"))
    return None
