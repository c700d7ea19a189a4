"""Replaying dead letters: send each record of `<topic>.dlq` back to `<topic>` as it first was.

    python -m shared.messaging.replay identity.users [--bootstrap 127.0.0.1:9092]

The replayer is its own consumer group on the DLQ, so each dead letter is replayed once; the
failed attempt left no inbox row, so the consumer applies the replayed record normally.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from aiokafka import AIOKafkaConsumer

from shared.events.topics import dlq_topic
from shared.messaging.dlq import original_headers
from shared.outbox.relay import idempotent_producer

REPLAYER_GROUP = "dlq-replayer"


async def replay_dead_letters(*, bootstrap: str, topic: str, idle_ms: int = 1000) -> int:
    """Replay every dead letter of `topic` not replayed before; returns how many were sent."""
    consumer = AIOKafkaConsumer(
        dlq_topic(topic),
        bootstrap_servers=bootstrap,
        group_id=REPLAYER_GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = idempotent_producer(bootstrap, client_id="dlq-replayer")
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("topic", help="the original topic, e.g. identity.users")
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    args = parser.parse_args()
    count = asyncio.run(replay_dead_letters(bootstrap=args.bootstrap, topic=args.topic))
    print(f"replayed {count} dead letters from {dlq_topic(args.topic)} to {args.topic}")


if __name__ == "__main__":
    main()
