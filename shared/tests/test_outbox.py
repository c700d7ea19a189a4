"""The transactional outbox and its relay, against real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest
from aiokafka import AIOKafkaConsumer

from devstack.platform import Platform
from devstack.testing import eventually
from shared.db.session import Database
from shared.events.envelope import Envelope
from shared.events.schemas.identity import UserCreated
from shared.outbox import OutboxRelay, record_event
from shared.outbox.relay import DRAIN_LOCK_KEY, idempotent_producer


def relay_for(database: Database, platform: Platform) -> OutboxRelay:
    return OutboxRelay(
        database=database,
        producer_factory=lambda: idempotent_producer(platform.kafka_bootstrap, client_id="test-relay"),
        safety_poll_seconds=30,  # long: the tests prove the commit wakes the relay, not the poll
    )


async def read_keyed(platform: Platform, *, key: str, expect: int, timeout: float = 20) -> list[Envelope]:
    """Read identity.users from the start until `expect` events with `key` arrived (or time runs out)."""
    consumer = AIOKafkaConsumer(
        "identity.users",
        bootstrap_servers=platform.kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[Envelope] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline and len(found) < expect:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                found += [Envelope.from_bytes(r.value) for r in records if r.key == key.encode()]
    finally:
        await consumer.stop()
    return found


async def write_user_created(
    database: Database, *, user_id: str, email: str | None = None, rollback: bool = False
) -> None:
    class Rollback(Exception):
        pass

    with pytest.raises(Rollback) if rollback else contextlib.nullcontext():
        async with database.unit_of_work() as session:
            await record_event(
                session,
                source="test",
                subject=user_id,
                data=UserCreated(user_id=user_id, email=email or f"{user_id}@example.com"),
            )
            if rollback:
                raise Rollback


async def test_a_rolled_back_transaction_publishes_nothing(scratch_db: Database, platform: Platform) -> None:
    rolled_back, committed = f"user_rb_{uuid.uuid4().hex}", f"user_ok_{uuid.uuid4().hex}"
    relay = relay_for(scratch_db, platform)
    await relay.start()
    try:
        await write_user_created(scratch_db, user_id=rolled_back, rollback=True)
        await write_user_created(scratch_db, user_id=committed)
        assert len(await read_keyed(platform, key=committed, expect=1)) == 1
        # The committed event, written after the rolled-back one, is already out: had the
        # rolled-back one been published it would be on the topic by now.
        assert await read_keyed(platform, key=rolled_back, expect=1, timeout=1) == []
    finally:
        await relay.stop()


async def test_a_row_committed_while_the_relay_is_down_is_published_when_it_returns(
    scratch_db: Database, platform: Platform
) -> None:
    user_id = f"user_{uuid.uuid4().hex}"
    await write_user_created(scratch_db, user_id=user_id)
    async with scratch_db.engine.connect() as connection:
        unsent = await connection.exec_driver_sql("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        assert unsent.scalar() == 1

    relay = relay_for(scratch_db, platform)
    await relay.start()
    try:
        events = await read_keyed(platform, key=user_id, expect=1)
        assert [event.data["user_id"] for event in events] == [user_id]
        await eventually(lambda: _unsent(scratch_db), until=lambda n: n == 0, what="row marked sent")
    finally:
        await relay.stop()


async def test_events_keep_their_commit_order_per_key(scratch_db: Database, platform: Platform) -> None:
    user_id = f"user_{uuid.uuid4().hex}"
    async with scratch_db.unit_of_work() as session:
        for n in range(20):
            await record_event(
                session,
                source="test",
                subject=user_id,
                data=UserCreated(user_id=user_id, email=f"{n}@example.com"),
            )
    relay = relay_for(scratch_db, platform)
    await relay.start()
    try:
        events = await read_keyed(platform, key=user_id, expect=20)
    finally:
        await relay.stop()
    assert [event.data["email"] for event in events] == [f"{n}@example.com" for n in range(20)]


async def test_the_relay_wakes_on_commit_without_waiting_for_its_poll(
    scratch_db: Database, platform: Platform
) -> None:
    relay = relay_for(scratch_db, platform)  # safety poll is 30 s
    await relay.start()
    try:
        await eventually(lambda: _connected(relay), until=bool, what="relay connected")
        user_id = f"user_{uuid.uuid4().hex}"
        await write_user_created(scratch_db, user_id=user_id)
        await eventually(
            lambda: _unsent(scratch_db),
            until=lambda n: n == 0,
            timeout=5,
            what="published well before the 30 s poll",
        )
    finally:
        await relay.stop()


async def _unsent(database: Database) -> int:
    async with database.engine.connect() as connection:
        result = await connection.exec_driver_sql("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        return int(result.scalar() or 0)


async def _connected(relay: OutboxRelay) -> bool:
    return relay.connected


async def test_two_relays_publish_every_event_in_commit_order_per_key(
    scratch_db: Database, platform: Platform
) -> None:
    """Replicas share a database: one drains at a time (the drain lock), the other waits its turn,
    and each event reaches Kafka in its commit order (a duplicate may follow; consumers dedupe)."""
    user_id = f"user_{uuid.uuid4().hex}"
    relays = [relay_for(scratch_db, platform) for _ in range(2)]
    for relay in relays:
        await relay.start()
    try:
        for n in range(60):  # each in its own transaction
            await write_user_created(scratch_db, user_id=user_id, email=f"{n}@x.io")
        events = await read_keyed(platform, key=user_id, expect=60)
        await eventually(lambda: _unsent(scratch_db), until=lambda n: n == 0, what="all marked sent")
    finally:
        for relay in relays:
            await relay.stop()
    first_seen = list(dict.fromkeys(event.data["email"] for event in events))
    assert first_seen == [f"{n}@x.io" for n in range(60)]


async def test_an_idle_relay_holds_no_drain_lock(scratch_db: Database, platform: Platform) -> None:
    """The drain lock is its session's while it drains and given back when the outbox is empty,
    so another replica's commits are drained by that replica at once, not after the poll."""
    relay = relay_for(scratch_db, platform)
    await relay.start()
    try:
        user_id = f"user_{uuid.uuid4().hex}"
        await write_user_created(scratch_db, user_id=user_id)
        await eventually(lambda: _unsent(scratch_db), until=lambda n: n == 0, what="published")
        await eventually(
            lambda: _drain_locks_held(scratch_db), until=lambda n: n == 0, what="lock given back"
        )
    finally:
        await relay.stop()


async def _drain_locks_held(database: Database) -> int:
    async with database.engine.connect() as connection:
        result = await connection.exec_driver_sql(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            f"AND objid = {DRAIN_LOCK_KEY}"
        )
        return int(result.scalar() or 0)
