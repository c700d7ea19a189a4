"""Dead-letter publishing: the original record, its headers, and why and how often it failed."""

from __future__ import annotations

from typing import Protocol

from aiokafka import AIOKafkaProducer, ConsumerRecord

from shared.events.topics import dlq_topic

# Header names on a dead-lettered record.
DLQ_ERROR = "dlq-error"
DLQ_ATTEMPTS = "dlq-attempts"
DLQ_CONSUMER = "dlq-consumer"
DLQ_ORIGINAL_TOPIC = "dlq-original-topic"
DLQ_ORIGINAL_PARTITION = "dlq-original-partition"
DLQ_ORIGINAL_OFFSET = "dlq-original-offset"
_DLQ_HEADERS = {
    DLQ_ERROR,
    DLQ_ATTEMPTS,
    DLQ_CONSUMER,
    DLQ_ORIGINAL_TOPIC,
    DLQ_ORIGINAL_PARTITION,
    DLQ_ORIGINAL_OFFSET,
}


class DeadLetterPublisher(Protocol):
    async def publish(self, record: ConsumerRecord[bytes, bytes], *, error: str, attempts: int) -> None: ...


class KafkaDeadLetterPublisher:
    """Sends failed records to `<topic>.dlq`, same key and value, original headers kept."""

    def __init__(self, *, consumer: str, producer: AIOKafkaProducer) -> None:
        self._consumer = consumer
        self._producer = producer

    async def publish(self, record: ConsumerRecord[bytes, bytes], *, error: str, attempts: int) -> None:
        headers = list(record.headers or ())
        headers += [
            (DLQ_ERROR, error[:4000].encode()),
            (DLQ_ATTEMPTS, str(attempts).encode()),
            (DLQ_CONSUMER, self._consumer.encode()),
            (DLQ_ORIGINAL_TOPIC, record.topic.encode()),
            (DLQ_ORIGINAL_PARTITION, str(record.partition).encode()),
            (DLQ_ORIGINAL_OFFSET, str(record.offset).encode()),
        ]
        # Awaiting the delivery before returning means the offset is committed only once the
        # dead letter is safely stored.
        await self._producer.send_and_wait(
            dlq_topic(record.topic), value=record.value, key=record.key, headers=headers
        )


def original_headers(headers: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """A dead letter's headers without the DLQ bookkeeping (what a replay sends back)."""
    return [(name, value) for name, value in headers if name not in _DLQ_HEADERS]
