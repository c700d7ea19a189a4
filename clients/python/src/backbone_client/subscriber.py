"""FastStream on the platform's topics: typed events, commit after the effect, retries, dead letters.

    broker = platform_broker(KafkaSettings.from_env("PRACTICE_APP"), consumer="practice-app")

    @broker.subscriber(BILLING_SUBSCRIPTIONS, **platform_subscription("practice-app"))
    async def on_change(event: Event[SubscriptionChanged]) -> None:
        ...  # apply it (idempotently: backbone_client.inbox), then return

What the broker and the subscription options do, for every record on a platform topic:

- **typed events**: the broker's decoder parses the record (value + CloudEvents headers) into
  `Event[<payload>]`, so the handler's annotation is what it gets;
- **commit after the effect**: the subscription has no auto-commit (`AckPolicy.NACK_ON_ERROR`):
  the offset is committed once the handler returned (or the record was dead-lettered), never
  before; a crash in between means the record comes again (at-least-once; dedupe by event id);
- **retries**: a handler that raises is called again with exponential backoff and jitter, up to
  `RetryPolicy.max_attempts` times; `PermanentError`, or a payload the handler's annotation
  refuses (a pydantic ValidationError), is not retried;
- **a dependency down**: when the retries end on an unavailable dependency (a refused connection,
  a timeout: `RetryPolicy.unavailable`), the record is rewound and comes again instead;
- **dead letters**: a record that keeps failing otherwise, or that is malformed, goes to `<topic>.dlq` with
  its key, value and headers and the platform's `dlq-*` headers (error, attempts, consumer,
  original topic/partition/offset), and is then committed, so one poison record does not stop
  the partition. Only if the dead letter cannot be written is the record rewound and retried;
- **unknown types**: an event of a type this version of the kit does not know (a newer platform)
  is skipped and committed, as the services skip another consumer's events on a shared topic.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage
from faststream.middlewares import BaseMiddleware
from pydantic import ValidationError
from tenacity import AsyncRetrying, RetryError, stop_after_attempt, wait_exponential_jitter

from backbone_client.events import ALL_TOPICS, MalformedEvent, UnknownEventType, dlq_topic, parse_record
from backbone_client.kafka import KafkaSettings

log = logging.getLogger(__name__)

# Header names on a dead-lettered record (the platform's: shared.messaging.dlq).
DLQ_ERROR = "dlq-error"
DLQ_ATTEMPTS = "dlq-attempts"
DLQ_CONSUMER = "dlq-consumer"
DLQ_ORIGINAL_TOPIC = "dlq-original-topic"
DLQ_ORIGINAL_PARTITION = "dlq-original-partition"
DLQ_ORIGINAL_OFFSET = "dlq-original-offset"


class PermanentError(Exception):
    """Raise it from a handler for an event that can never be applied: dead-lettered at once."""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and jitter (the platform's defaults).

    `unavailable`: errors that mean a dependency is down, not the event bad (a refused or lost
    connection, a timeout). When the retries end on one of them, the record is NOT dead-lettered:
    it is rewound and comes again, so the partition waits until the dependency is back, as the
    platform's consumers do. Found anywhere in the error's cause chain; a SQLAlchemy error whose
    connection was invalidated counts too.
    """

    max_attempts: int = 5
    initial_seconds: float = 0.05
    max_seconds: float = 2.0
    unavailable: tuple[type[BaseException], ...] = (OSError, TimeoutError)

    def means_unavailable(self, error: BaseException | None) -> bool:
        seen: set[int] = set()
        while error is not None and id(error) not in seen:
            seen.add(id(error))
            if isinstance(error, self.unavailable) or getattr(error, "connection_invalidated", False) is True:
                return True
            error = error.__cause__ or error.__context__
        return False


class DependencyUnavailable(Exception):
    """The retries ended on an unavailable dependency: the record is rewound, not dead-lettered."""


class SubscriptionOptions(TypedDict):
    group_id: str
    ack_policy: AckPolicy
    auto_offset_reset: Literal["earliest", "latest", "none"]


def platform_subscription(group_id: str) -> SubscriptionOptions:
    """`broker.subscriber(topic, **platform_subscription(group))`: a consumer group that commits
    after the effect and starts, the first time, at the beginning of the topic (every event the
    platform kept). Further FastStream options go beside it in the call."""
    return SubscriptionOptions(
        group_id=group_id, ack_policy=AckPolicy.NACK_ON_ERROR, auto_offset_reset="earliest"
    )


def platform_broker(
    settings: KafkaSettings,
    *,
    consumer: str,
    retry: RetryPolicy | None = None,
    **options: Any,
) -> KafkaBroker:
    """A KafkaBroker for the platform's topics: its settings (SASL_SSL in production), the typed
    decoder and the retry/dead-letter middleware. `consumer` names this service in dead letters."""
    delivery = PlatformDelivery(consumer=consumer, retry=retry or RetryPolicy())
    broker = KafkaBroker(
        settings.bootstrap_servers,
        security=settings.security(),
        decoder=decode_event,
        middlewares=[delivery],
        **options,
    )
    delivery.broker = broker
    return broker


async def decode_event(
    message: StreamMessage[Any], original: Callable[[StreamMessage[Any]], Awaitable[Any]]
) -> Any:
    """A platform topic's record as `Event[<payload>]`; any other topic's with FastStream's own
    decoder. Raises MalformedEvent / UnknownEventType (the middleware handles both)."""
    record = message.raw_message
    if not _is_platform_record(record, ALL_TOPICS):
        return await original(message)
    return parse_record(record.value, record.headers)


def _is_platform_record(record: Any, topics: Collection[str]) -> bool:
    return isinstance(record, ConsumerRecord) and record.topic in topics


class PlatformDelivery:
    """The broker middleware behind `platform_broker` (see the module's docstring)."""

    def __init__(self, *, consumer: str, retry: RetryPolicy, topics: Collection[str] = ALL_TOPICS) -> None:
        self.consumer = consumer
        self.retry = retry
        self.topics = frozenset(topics)
        self.broker: KafkaBroker | None = None

    def __call__(self, msg: Any, /, **kwargs: Any) -> _Delivery:
        return _Delivery(msg, policy=self, **kwargs)

    async def dead_letter(self, record: ConsumerRecord[Any, Any], *, error: str, attempts: int) -> None:
        """`record` to `<topic>.dlq`, same key, value and headers plus why; awaited, so the
        offset is committed only once the dead letter is stored."""
        if self.broker is None:
            raise RuntimeError("PlatformDelivery is not bound to a broker (use platform_broker)")
        headers = {name: value.decode(errors="replace") for name, value in record.headers or ()} | {
            DLQ_ERROR: error[:4000],
            DLQ_ATTEMPTS: str(attempts),
            DLQ_CONSUMER: self.consumer,
            DLQ_ORIGINAL_TOPIC: record.topic,
            DLQ_ORIGINAL_PARTITION: str(record.partition),
            DLQ_ORIGINAL_OFFSET: str(record.offset),
        }
        log.warning("%s: dead-lettering %s@%s: %s", self.consumer, record.topic, record.offset, error)
        await self.broker.publish(
            record.value or b"", topic=dlq_topic(record.topic), key=record.key, headers=headers
        )


class _Delivery(BaseMiddleware):
    def __init__(self, msg: Any, /, *, policy: PlatformDelivery, **kwargs: Any) -> None:
        super().__init__(msg, **kwargs)
        self.policy = policy

    async def consume_scope(
        self, call_next: Callable[[StreamMessage[Any]], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        record = msg.raw_message
        if not _is_platform_record(record, self.policy.topics):
            return await call_next(msg)
        try:
            await msg.decode()
        except UnknownEventType as unknown:
            log.info("%s: skipping %s (%s)", self.policy.consumer, unknown.event_type, record.topic)
            return None
        except MalformedEvent as error:
            await self.policy.dead_letter(record, error=f"malformed event: {error}", attempts=1)
            return None
        return await self._with_retries(call_next, msg, record)

    async def _with_retries(
        self,
        call_next: Callable[[StreamMessage[Any]], Awaitable[Any]],
        msg: StreamMessage[Any],
        record: ConsumerRecord[Any, Any],
    ) -> Any:
        retry = self.policy.retry
        attempts = 0
        retrying = AsyncRetrying(
            stop=stop_after_attempt(retry.max_attempts),
            wait=wait_exponential_jitter(
                multiplier=retry.initial_seconds, jitter=retry.initial_seconds, max=retry.max_seconds
            ),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    try:
                        return await call_next(msg)
                    except (PermanentError, ValidationError) as error:
                        await self.policy.dead_letter(record, error=repr(error), attempts=attempts)
                        return None
        except RetryError as exhausted:
            last = exhausted.last_attempt.exception()
            if retry.means_unavailable(last):
                # Raised through FastStream's NACK_ON_ERROR: the consumer seeks back to this record.
                raise DependencyUnavailable(repr(last)) from last
            await self.policy.dead_letter(record, error=repr(last), attempts=attempts)
        return None
