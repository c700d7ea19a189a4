"""The idempotent event consumer every service's handlers go through.

A batch is one partition's records, in offset order. It is applied in one transaction: one
statement claims every event id in the inbox, then the new events go to their handlers in order.
If anything in the batch fails, the transaction rolls back and the batch is retried record by
record, each in its own transaction with backoff and jitter (tenacity), so one poison record is
isolated: it goes to `<topic>.dlq` with its error and attempt count, and the records around it
still commit. Offsets are committed by the caller (`ConsumerLoop`) only after this returns.
"""

from __future__ import annotations

import logging
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
from shared.telemetry import span_from_traceparent

log = logging.getLogger(__name__)

EventHandler = Callable[[AsyncSession, Envelope], Awaitable[None]]
Record: TypeAlias = ConsumerRecord[bytes, bytes]


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
    handler: EventHandler


@dataclass
class EventConsumer:
    """Dispatches one topic's events to handlers by type, exactly once in effect."""

    name: str
    topic: str
    handlers: Mapping[str, EventHandler]
    database: Database
    dead_letters: DeadLetterPublisher
    retry: RetryPolicy = RetryPolicy()

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
            for item in work:
                if item.envelope.id in fresh:
                    fresh.discard(item.envelope.id)  # twice in one batch: apply it once
                    with self._span(item):
                        await item.handler(session, item.envelope)

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
                with self._span(item):
                    await item.handler(session, item.envelope)

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

    @contextmanager
    def _span(self, item: _Work) -> Iterator[None]:
        """The consumer span, a child of the producer's trace, so outbox rows written carry it on."""
        envelope = item.envelope
        attributes = {
            "messaging.system": "kafka",
            "messaging.destination.name": self.topic,
            "messaging.message.id": str(envelope.id),
            "event.type": envelope.type,
        }
        with span_from_traceparent(
            f"{self.name} handle {envelope.type}",
            _header(item.record, "traceparent") or envelope.traceparent,
            kind=SpanKind.CONSUMER,
            attributes=attributes,
        ):
            yield


def _header(record: Record, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return str(value.decode(errors="replace"))
    return None
