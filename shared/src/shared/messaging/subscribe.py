"""Attaching an EventConsumer to a FastStream Kafka broker with the delivery semantics we need."""

from __future__ import annotations

from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage

from shared.messaging.consumer import EventConsumer


def subscribe(
    broker: KafkaBroker, consumer: EventConsumer, *, group_id: str, partition_workers: int = 3
) -> None:
    """Consume `consumer.topic` in `group_id`, committing offsets only after the handler returns.

    FastStream's Kafka default acknowledges first (at-most-once). NACK_ON_ERROR commits after
    the handler returned, that is after its transaction committed; on an exception it seeks
    back so the record is delivered again.

    `partition_workers` consumers share the group inside this process, each owning some
    partitions: different aggregates proceed in parallel, one aggregate's events stay in order.
    """

    async def handle(message: KafkaMessage) -> None:
        await consumer.handle_record(message.raw_message)

    handle.__name__ = f"{consumer.name}__{consumer.topic.replace('.', '_').replace('-', '_')}"
    broker.subscriber(
        consumer.topic,
        group_id=group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        max_poll_interval_ms=120_000,
        max_workers=partition_workers,
    )(handle)
