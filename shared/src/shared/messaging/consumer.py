"""The subscriber wrapper every service's consumers go through.

For each Kafka record: parse the envelope, pick the handler for its `type`, and in one
transaction claim the event id in the inbox and apply the effect. The transaction commits before
the offset is (FastStream's NACK_ON_ERROR policy commits after the handler returns). Failures are
retried with exponential backoff and jitter; a message that still fails, or can never succeed,
goes to `<topic>.dlq` with the error and attempt count, and the partition moves on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiokafka import ConsumerRecord
from opentelemetry.trace import SpanKind
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from shared.db.session import Database
from shared.events.envelope import Envelope
from shared.inbox import claim_event
from shared.messaging.dlq import DeadLetterPublisher
from shared.telemetry import span_from_traceparent

log = logging.getLogger(__name__)

EventHandler = Callable[[AsyncSession, Envelope], Awaitable[None]]


class PermanentError(Exception):
    """The message can never be processed (bad data); retrying is pointless."""


class InfrastructureUnavailable(Exception):
    """Retries ran out because a dependency is unreachable; the record must be redelivered."""


def is_infrastructure_error(error: BaseException | None) -> bool:
    """Connection-level failures (database or network down), as opposed to a bad message."""
    if isinstance(error, (OSError, TimeoutError, ConnectionError)):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, (OperationalError, InterfaceError))


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    initial_seconds: float = 0.05
    max_seconds: float = 2.0


@dataclass
class EventConsumer:
    """Dispatches one topic's events to handlers by type, exactly once in effect."""

    name: str
    topic: str
    handlers: Mapping[str, EventHandler]
    database: Database
    dead_letters: DeadLetterPublisher
    retry: RetryPolicy = RetryPolicy()

    async def handle_record(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """Process one record; returns when it is done (applied, duplicate, ignored or dead-lettered)."""
        try:
            envelope = Envelope.from_bytes(record.value or b"")
        except ValidationError as error:
            await self.dead_letters.publish(record, error=f"malformed envelope: {error}", attempts=1)
            return
        handler = self.handlers.get(envelope.type)
        if handler is None:
            return  # another consumer's event on a shared topic
        attributes = {
            "messaging.system": "kafka",
            "messaging.destination.name": self.topic,
            "messaging.message.id": str(envelope.id),
            "event.type": envelope.type,
        }
        traceparent = _header(record, "traceparent") or envelope.traceparent
        with span_from_traceparent(
            f"{self.name} handle {envelope.type}",
            traceparent,
            kind=SpanKind.CONSUMER,
            attributes=attributes,
        ):
            await self._apply_with_retries(record, envelope, handler)

    async def _apply_with_retries(
        self, record: ConsumerRecord[bytes, bytes], envelope: Envelope, handler: EventHandler
    ) -> None:
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
                    await self._apply_once(envelope, handler)
        except RetryError as exhausted:
            error = exhausted.last_attempt.exception()
            if is_infrastructure_error(error):
                # The database or broker is down, not the message bad: leave the offset
                # uncommitted so the record is redelivered once the world is back.
                raise InfrastructureUnavailable(repr(error)) from error
            log.warning(
                "%s: %s %s failed %d times, dead-lettered: %r",
                self.name,
                envelope.type,
                envelope.id,
                attempts,
                error,
            )
            await self.dead_letters.publish(record, error=repr(error), attempts=attempts)
        except (PermanentError, ValidationError) as error:
            log.warning(
                "%s: %s %s cannot be processed, dead-lettered: %r",
                self.name,
                envelope.type,
                envelope.id,
                error,
            )
            await self.dead_letters.publish(record, error=repr(error), attempts=attempts)

    async def _apply_once(self, envelope: Envelope, handler: EventHandler) -> None:
        async with self.database.unit_of_work() as session:
            first_time = await claim_event(
                session, consumer=self.name, event_id=envelope.id, event_type=envelope.type
            )
            if first_time:
                await handler(session, envelope)


def _header(record: ConsumerRecord[bytes, bytes], name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return str(value.decode(errors="replace"))
    return None
