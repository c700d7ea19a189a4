"""Browsing and replaying dead letters: send records of `<topic>.dlq` back to `<topic>` as they
first were.

    python -m shared.messaging.replay identity.users [--bootstrap 127.0.0.1:9092]
                                   # a secured broker: KAFKA_SECURITY_PROTOCOL and OPERATOR_KAFKA_*
    devstack dlq list identity.users          # offset, key, type, error, attempts, age, replayed?
    devstack dlq replay identity.users [--partition P --offset N]

Replaying all goes through the replayer's own consumer group on the DLQ, so each dead letter is
replayed once; replaying one record (by partition and offset) sends just that one. The failed
attempt left no inbox row, so the consumer applies a replayed record normally (and a record
replayed twice is a duplicate the inbox drops).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from shared.events.topics import dlq_topic
from shared.messaging.dlq import (
    DLQ_ATTEMPTS,
    DLQ_CONSUMER,
    DLQ_ERROR,
    DLQ_ORIGINAL_OFFSET,
    DLQ_ORIGINAL_PARTITION,
    DLQ_ORIGINAL_TOPIC,
    original_headers,
)
from shared.messaging.kafka_connection import KafkaConnection, KafkaTarget, as_connection
from shared.outbox.relay import idempotent_producer

REPLAYER_GROUP = "dlq-replayer"
# The client id of the replayer's producer (its idempotent producer needs IDEMPOTENT_WRITE, see ACLs).
REPLAYER_CLIENT_ID = "dlq-replayer"


async def replay_dead_letters(*, kafka: KafkaTarget, topic: str, idle_ms: int = 1000) -> int:
    """Replay every dead letter of `topic` not replayed before; returns how many were sent."""
    consumer = AIOKafkaConsumer(
        dlq_topic(topic),
        **as_connection(kafka).client_kwargs(),
        group_id=REPLAYER_GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = idempotent_producer(kafka, client_id=REPLAYER_CLIENT_ID)
    await consumer.start()
    await producer.start()
    replayed = 0
    try:
        while batches := await consumer.getmany(timeout_ms=idle_ms):
            for records in batches.values():
                for record in records:
                    await producer.send_and_wait(
                        topic,
                        value=record.value,
                        key=record.key,
                        headers=original_headers(list(record.headers or ())),
                    )
                    replayed += 1
            await consumer.commit()  # only after the batch is safely back on the topic
    finally:
        await producer.stop()
        await consumer.stop()
    return replayed


@dataclass(frozen=True)
class DeadLetter:
    """One record of a `.dlq` topic, as an operator sees it."""

    partition: int
    offset: int
    key: str
    event_type: str
    error: str
    attempts: str
    age_seconds: float
    replayed: bool  # the replay-all group has passed it
    consumer: str = ""  # the consumer group that gave up on it (each group dead-letters its own copy)
    original: str = ""  # where it came from: `topic[partition]@offset`
    event_id: str = ""  # the `ce_id` header, else the envelope's `id` ("" when it is no envelope)
    traceparent: str = ""  # the `traceparent` header, else the envelope's


async def list_dead_letters(*, kafka: KafkaTarget, topic: str) -> list[DeadLetter]:
    """Every record now on `<topic>.dlq`, oldest first per partition (reads; changes nothing)."""
    # No group: the consumer is given every partition of the topic, and commits nothing.
    consumer = AIOKafkaConsumer(
        dlq_topic(topic),
        **as_connection(kafka).client_kwargs(),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + 10
        # The assignment follows the first metadata answer; aiokafka has no event for it.
        while not consumer.assignment() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        partitions = sorted(consumer.assignment())
        if not partitions:
            return []
        ends = await consumer.end_offsets(partitions)
        replayed_to = await _replayer_offsets(kafka, partitions)
        found: list[DeadLetter] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                found += [_dead_letter(record, replayed_to.get(tp, 0)) for record in records]
    finally:
        await consumer.stop()
    return sorted(found, key=lambda letter: (letter.partition, letter.offset))


async def replay_one(*, kafka: KafkaTarget, topic: str, partition: int, offset: int) -> bool:
    """Send the dead letter at `partition`/`offset` of `<topic>.dlq` back to `topic`; False if
    there is no such record."""
    tp = TopicPartition(dlq_topic(topic), partition)
    consumer = AIOKafkaConsumer(**as_connection(kafka).client_kwargs(), enable_auto_commit=False)
    producer = idempotent_producer(kafka, client_id=REPLAYER_CLIENT_ID)
    await consumer.start()
    await producer.start()
    try:
        consumer.assign([tp])
        consumer.seek(tp, offset)
        end = (await consumer.end_offsets([tp]))[tp]
        if offset >= end:
            return False
        records = (await consumer.getmany(tp, timeout_ms=5000, max_records=1)).get(tp, [])
        if not records or records[0].offset != offset:
            return False
        record = records[0]
        await producer.send_and_wait(
            topic, value=record.value, key=record.key, headers=original_headers(list(record.headers or ()))
        )
        return True
    finally:
        await producer.stop()
        await consumer.stop()


async def _replayer_offsets(
    kafka: KafkaTarget, partitions: list[TopicPartition]
) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(
        **as_connection(kafka).client_kwargs(), group_id=REPLAYER_GROUP, enable_auto_commit=False
    )
    await consumer.start()
    try:
        return {tp: await consumer.committed(tp) or 0 for tp in partitions}
    finally:
        await consumer.stop()


def _dead_letter(record: ConsumerRecord[bytes, bytes], replayed_to: int) -> DeadLetter:
    headers = {name: value.decode(errors="replace") for name, value in record.headers or ()}
    envelope = _envelope(record.value)
    return DeadLetter(
        partition=record.partition,
        offset=record.offset,
        key=(record.key or b"").decode(errors="replace"),
        event_type=headers.get("ce_type") or str(envelope.get("type", "?")),
        error=" ".join(headers.get(DLQ_ERROR, "").split()),  # one line, whatever the exception said
        attempts=headers.get(DLQ_ATTEMPTS, "?"),
        age_seconds=max(0.0, time.time() - record.timestamp / 1000),
        replayed=record.offset < replayed_to,
        consumer=headers.get(DLQ_CONSUMER, ""),
        original=(
            f"{headers.get(DLQ_ORIGINAL_TOPIC, '?')}[{headers.get(DLQ_ORIGINAL_PARTITION, '?')}]"
            f"@{headers.get(DLQ_ORIGINAL_OFFSET, '?')}"
        ),
        event_id=headers.get("ce_id") or str(envelope.get("id", "")),
        traceparent=headers.get("traceparent") or str(envelope.get("traceparent", "")),
    )


def _envelope(value: bytes | None) -> dict[str, object]:
    """The CloudEvents attributes of a record's value (empty if it is no JSON object)."""
    try:
        parsed = json.loads(value or b"{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def main() -> None:
    parser = argparse.ArgumentParser(description="Replay every dead letter of a topic not replayed before.")
    parser.add_argument("topic", help="the original topic, e.g. identity.users")
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    args = parser.parse_args()
    kafka = KafkaConnection.from_env("OPERATOR", {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": args.bootstrap})
    count = asyncio.run(replay_dead_letters(kafka=kafka, topic=args.topic))
    print(f"replayed {count} dead letters from {dlq_topic(args.topic)} to {args.topic}")


if __name__ == "__main__":
    main()
