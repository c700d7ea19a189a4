"""One signup at a time: how long the webhook's answer takes, and until its event is on Kafka."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer

from devstack.bench.client import Endpoints, http_session, post_signup, presign
from devstack.bench.report import Figure, ms, percentile
from shared.messaging.kafka_connection import as_connection


async def run_webhook_to_kafka(target: Endpoints, *, count: int, deadline: float) -> list[Figure]:
    """`count` signups one after another; each waits for its `user.created` on identity.users."""
    signups = presign(count)
    answered: list[float] = []
    published: list[float] = []
    consumer = AIOKafkaConsumer("identity.users", **as_connection(target.kafka).client_kwargs())
    await consumer.start()
    try:
        await consumer.seek_to_end()
        async with http_session(1) as session:
            for signup in signups:
                await post_signup(session, target, signup)
                took = signup.answer_seconds
                if not signup.accepted or signup.posted_at is None or took is None:
                    raise RuntimeError(f"webhook for {signup.user_id} answered {signup.status}")
                answered.append(took)
                while True:
                    record = await asyncio.wait_for(consumer.getone(), timeout=deadline)
                    if record.key == signup.user_id.encode():
                        published.append(time.perf_counter() - signup.posted_at)
                        break
    finally:
        await consumer.stop()
    conditions = f"{count} signups one after another, idle platform otherwise"
    return [
        _figure("webhook answered p50, one at a time", answered, f"{conditions}; {_spread(answered)}"),
        _figure("webhook → user.created on Kafka p50", published, f"{conditions}; {_spread(published)}"),
    ]


def _figure(name: str, seconds: list[float], conditions: str) -> Figure:
    return Figure(name, ms(percentile(seconds, 50)), "ms", conditions)


def _spread(seconds: list[float]) -> str:
    return f"p95 {ms(percentile(seconds, 95)):.1f} ms, max {ms(max(seconds)):.1f} ms"
