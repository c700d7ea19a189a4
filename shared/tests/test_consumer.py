"""The consumer: batches, inbox, retries with backoff, dead letters, commit after effect, real Kafka."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.event import listen
from sqlalchemy.ext.asyncio import AsyncSession

from devstack.groups import committed_offsets
from devstack.kafka import create_topics
from devstack.platform import Platform
from devstack.testing import eventually
from shared.db.session import Database
from shared.events.envelope import Envelope
from shared.messaging.consumer import Batched, EventConsumer, PermanentError, RetryPolicy, batched_together
from shared.messaging.dlq import DLQ_ATTEMPTS, DLQ_ERROR, KafkaDeadLetterPublisher
from shared.messaging.loop import ConsumerLoop
from shared.outbox.relay import idempotent_producer


@pytest.fixture
async def topic(platform: Platform) -> AsyncIterator[str]:
    """A fresh one-partition topic and its `.dlq`, so order within the partition is observable."""
    name = f"test.consumer.{uuid.uuid4().hex[:10]}"
    await create_topics(platform.kafka_bootstrap, (name,), partitions=1)
    yield name


class Recorder:
    """Handlers whose behaviour the tests choose; `applied` lists effects that committed, in order."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.applied: list[str] = []
        self.calls: Counter[str] = Counter()
        self.fixed: set[str] = set()
        self.gate = asyncio.Event()
        self.runs: list[list[str]] = []  # what each call of the batched handler was given
        self.together: list[tuple[str, list[str]]] = []  # each call of a `batched_together` type

    def together_handler(self, kind: str) -> Callable[[AsyncSession, Sequence[Envelope]], Awaitable[None]]:
        async def apply(session: AsyncSession, events: Sequence[Envelope]) -> None:
            self.together.append((kind, [event.subject for event in events]))
            for event in events:
                self._apply(session, event.subject)

        return apply

    async def ok(self, session: AsyncSession, event: Envelope) -> None:
        self.calls[event.subject] += 1
        self._apply(session, event.subject)

    def _apply(self, session: AsyncSession, subject: str) -> None:
        """Record the effect once its transaction commits (a rolled-back batch records nothing)."""
        listen(session.sync_session, "after_commit", lambda _: self.applied.append(subject))

    async def flaky(self, session: AsyncSession, event: Envelope) -> None:
        self.calls[event.subject] += 1
        if self.calls[event.subject] < 3:
            raise ConnectionResetError("transient: peer reset")
        self._apply(session, event.subject)

    async def poison(self, session: AsyncSession, event: Envelope) -> None:
        self.calls[event.subject] += 1
        if event.subject in self.fixed:
            self._apply(session, event.subject)
            return
        raise ValueError(f"cannot process {event.subject}")

    async def unreachable(self, session: AsyncSession, event: Envelope) -> None:
        self.calls[event.subject] += 1
        if event.subject not in self.fixed:
            raise ConnectionRefusedError("database unreachable")
        self._apply(session, event.subject)

    async def hopeless(self, session: AsyncSession, event: Envelope) -> None:
        self.calls[event.subject] += 1
        raise PermanentError("this can never work")

    async def batched(self, session: AsyncSession, events: Sequence[Envelope]) -> None:
        """A set-based handler: one call per run; a poison event in the run fails the whole call."""
        subjects = [event.subject for event in events]
        self.runs.append(subjects)
        for subject in subjects:
            self.calls[subject] += 1
            if subject.startswith("poison") and subject not in self.fixed:
                raise ValueError(f"cannot process {subject}")
        for subject in subjects:
            self._apply(session, subject)

    async def gated(self, session: AsyncSession, event: Envelope) -> None:
        """Holds its transaction open until the test opens the gate."""
        self.calls[event.subject] += 1
        await self.gate.wait()
        self._apply(session, event.subject)


def envelope(event_type: str, subject: str) -> Envelope:
    return Envelope(
        id=uuid.uuid4(), type=event_type, source="test", time=datetime.now(UTC), subject=subject, data={}
    )


StartConsuming = Callable[[], Awaitable[Recorder]]


@pytest.fixture
async def start_consuming(
    topic: str, scratch_db: Database, platform: Platform
) -> AsyncIterator[StartConsuming]:
    """Starts a consumer loop on `topic` when called (so a test can publish before it starts)."""
    group = f"test-{uuid.uuid4().hex[:8]}"
    recorder = Recorder(group)
    producer = idempotent_producer(platform.kafka_bootstrap, client_id="test-dlq")
    await producer.start()
    consumer = EventConsumer(
        name="test-consumer",
        topic=topic,
        handlers={
            "test.ok": recorder.ok,
            "test.flaky": recorder.flaky,
            "test.poison": recorder.poison,
            "test.hopeless": recorder.hopeless,
            "test.unreachable": recorder.unreachable,
            "test.gated": recorder.gated,
            "test.batched": Batched(recorder.batched),
            **batched_together(
                {
                    "test.org": recorder.together_handler("org"),
                    "test.member": recorder.together_handler("member"),
                }
            ),
        },
        database=scratch_db,
        dead_letters=KafkaDeadLetterPublisher(consumer="test-consumer", producer=producer),
        retry=RetryPolicy(max_attempts=3, initial_seconds=0.01, max_seconds=0.05),
    )
    loop = ConsumerLoop(
        kafka=platform.kafka_bootstrap,
        group_id=group,
        client_id="test-consumer",
        consumers=[consumer],
        redelivery_pause_seconds=0.05,
    )
    started = False

    async def start() -> Recorder:
        nonlocal started
        await loop.start()
        started = True
        return recorder

    try:
        yield start
    finally:
        recorder.gate.set()
        if started:
            await loop.stop()
        await producer.stop()


@pytest.fixture
async def running(start_consuming: StartConsuming) -> Recorder:
    return await start_consuming()


async def publish(platform: Platform, topic: str, *events: Envelope | bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=platform.kafka_bootstrap)
    await producer.start()
    try:
        sent = []
        for event in events:
            value = event if isinstance(event, bytes) else event.to_bytes()
            sent.append(await producer.send(topic, value=value, key=b"same-key"))
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def dead_letters(platform: Platform, topic: str, *, expect: int) -> list[dict[str, str]]:
    consumer = AIOKafkaConsumer(
        f"{topic}.dlq",
        bootstrap_servers=platform.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[dict[str, str]] = []
    try:
        deadline = asyncio.get_running_loop().time() + 20
        while len(found) < expect and asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                found += [
                    {k: v.decode() for k, v in r.headers} | {"value": r.value.decode()} for r in records
                ]
    finally:
        await consumer.stop()
    return found


async def test_a_transient_failure_succeeds_after_retries(
    running: Recorder, topic: str, platform: Platform
) -> None:
    await publish(platform, topic, envelope("test.flaky", "flaky-1"))

    await eventually(
        lambda: _value(running.applied), until=lambda a: a == ["flaky-1"], what="flaky event applied"
    )
    assert running.calls["flaky-1"] == 3


async def test_a_poison_message_goes_to_the_dlq_and_the_partition_moves_on(
    running: Recorder, topic: str, platform: Platform
) -> None:
    poison = envelope("test.poison", "poison-1")
    await publish(platform, topic, poison, envelope("test.ok", "after-poison"))

    await eventually(
        lambda: _value(running.applied),
        until=lambda a: a == ["after-poison"],
        what="the message after the poison one applied",
    )
    [letter] = await dead_letters(platform, topic, expect=1)
    assert letter[DLQ_ATTEMPTS] == "3"
    assert "ValueError" in letter[DLQ_ERROR] and "poison-1" in letter[DLQ_ERROR]
    assert Envelope.model_validate_json(letter["value"]).id == poison.id
    assert running.calls["poison-1"] == 4  # once inside its batch, then 3 attempts alone


async def test_permanent_errors_and_malformed_envelopes_are_dead_lettered_at_once(
    running: Recorder, topic: str, platform: Platform
) -> None:
    await publish(
        platform,
        topic,
        envelope("test.hopeless", "hopeless-1"),
        b"{not an envelope",
        envelope("test.ok", "after-garbage"),
    )

    await eventually(
        lambda: _value(running.applied), until=lambda a: a == ["after-garbage"], what="later message applied"
    )
    letters = await dead_letters(platform, topic, expect=2)
    assert [letter[DLQ_ATTEMPTS] for letter in letters] == ["1", "1"]
    assert running.calls["hopeless-1"] == 2  # once inside its batch, once alone: never retried


async def test_a_duplicate_delivery_changes_nothing(
    running: Recorder, topic: str, platform: Platform, scratch_db: Database
) -> None:
    event = envelope("test.ok", "once")
    await publish(platform, topic, event, event, envelope("test.ok", "marker"))

    await eventually(lambda: _value(running.applied), until=lambda a: "marker" in a, what="marker applied")
    assert running.applied == ["once", "marker"]
    async with scratch_db.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT count(*) FROM inbox WHERE event_id = :id"), {"id": event.id}
        )
        assert rows.scalar() == 1


async def _value(items: list[str]) -> list[str]:
    return list(items)


async def test_a_dead_letter_can_be_replayed_once_the_cause_is_fixed(
    running: Recorder, topic: str, platform: Platform
) -> None:
    from shared.messaging.replay import replay_dead_letters

    await publish(platform, topic, envelope("test.poison", "fixed-later"))
    await dead_letters(platform, topic, expect=1)
    running.fixed.add("fixed-later")  # the bug is fixed

    assert await replay_dead_letters(kafka=platform.kafka_bootstrap, topic=topic) == 1

    await eventually(
        lambda: _value(running.applied), until=lambda a: a == ["fixed-later"], what="replayed event applied"
    )
    assert await replay_dead_letters(kafka=platform.kafka_bootstrap, topic=topic) == 0


async def test_an_outage_is_not_mistaken_for_a_poison_message(
    running: Recorder, topic: str, platform: Platform
) -> None:
    """Connection errors outlast the retries: the record is redelivered, never dead-lettered."""
    await publish(platform, topic, envelope("test.unreachable", "during-outage"))

    # 1 batch attempt + 3 alone per delivery: more than 4 calls means the record came back.
    await eventually(
        lambda: _calls(running, "during-outage"),
        until=lambda n: n > 4,
        what="redelivery after the retries ran out",
    )
    running.fixed.add("during-outage")  # the database is back

    await eventually(
        lambda: _value(running.applied),
        until=lambda a: a == ["during-outage"],
        what="applied once the outage ended",
    )
    assert await dead_letters(platform, topic, expect=1) == []


async def _calls(recorder: Recorder, subject: str) -> int:
    return recorder.calls[subject]


async def test_a_backlog_is_applied_in_order_as_one_batch_in_one_transaction(
    start_consuming: StartConsuming, topic: str, platform: Platform, scratch_db: Database
) -> None:
    subjects = [f"backlog-{i}" for i in range(50)]
    await publish(platform, topic, *(envelope("test.ok", subject) for subject in subjects))

    recorder = await start_consuming()

    await eventually(
        lambda: _value(recorder.applied), until=lambda a: len(a) == 50, what="the backlog applied"
    )
    assert recorder.applied == subjects
    async with scratch_db.engine.connect() as connection:
        # now() is the transaction's start: a single value means one transaction claimed all 50.
        stamps = await connection.scalar(text("SELECT count(DISTINCT processed_at) FROM inbox"))
    assert stamps == 1


async def test_a_poison_record_inside_a_batch_is_isolated_and_the_key_order_kept(
    start_consuming: StartConsuming, topic: str, platform: Platform
) -> None:
    await publish(
        platform,
        topic,
        envelope("test.ok", "before"),
        envelope("test.poison", "poison-in-batch"),
        envelope("test.ok", "after"),
    )

    recorder = await start_consuming()

    await eventually(
        lambda: _value(recorder.applied),
        until=lambda a: a == ["before", "after"],
        what="the rest of the batch applied, in order",
    )
    [letter] = await dead_letters(platform, topic, expect=1)
    assert letter[DLQ_ATTEMPTS] == "3"
    assert "poison-in-batch" in letter[DLQ_ERROR]


async def test_the_offset_is_committed_only_after_the_effect_commits(
    running: Recorder, topic: str, platform: Platform
) -> None:
    await publish(platform, topic, envelope("test.gated", "held"))
    await eventually(
        lambda: _calls(running, "held"), until=lambda n: n == 1, what="the handler holding its transaction"
    )

    assert await committed_offset(platform, running.group, topic) is None

    running.gate.set()
    assert await eventually(
        lambda: committed_offset(platform, running.group, topic),
        until=lambda offset: offset == 1,
        what="the offset committed after the effect",
    )
    assert running.applied == ["held"]


async def committed_offset(platform: Platform, group: str, topic: str) -> int | None:
    offsets = await committed_offsets(platform.kafka_bootstrap, group)
    found = [offset for tp, offset in offsets.items() if tp.topic == topic and offset >= 0]
    return found[0] if found else None


async def test_a_batched_handler_takes_runs_of_its_type_and_order_holds_across_types(
    start_consuming: StartConsuming, topic: str, platform: Platform
) -> None:
    names = ["b1", "b2", "single", "b3", "b4"]
    await publish(
        platform,
        topic,
        *(envelope("test.ok" if name == "single" else "test.batched", name) for name in names),
    )
    recorder = await start_consuming()  # all five are waiting: they come as one batch

    await eventually(lambda: _value(recorder.applied), until=lambda a: len(a) == 5, what="all applied")
    assert recorder.applied == names
    assert recorder.runs == [["b1", "b2"], ["b3", "b4"]]


async def test_interleaved_types_batched_together_are_one_call_per_type_per_run(
    start_consuming: StartConsuming, topic: str, platform: Platform
) -> None:
    """A signup's org.created and membership.added alternate on the topic: applied together, a
    run is one call per type (orgs first, as declared), not one call per event."""
    kinds = {"o": "test.org", "m": "test.member", "s": "test.ok"}
    names = ["o1", "m1", "o2", "m2", "s", "m3", "o3"]
    await publish(platform, topic, *(envelope(kinds[name[0]], name) for name in names))
    recorder = await start_consuming()

    await eventually(lambda: _value(recorder.applied), until=lambda a: len(a) == 7, what="all applied")
    assert recorder.together == [
        ("org", ["o1", "o2"]),
        ("member", ["m1", "m2"]),
        ("org", ["o3"]),
        ("member", ["m3"]),
    ]
    assert recorder.applied == ["o1", "o2", "m1", "m2", "s", "o3", "m3"]


async def test_a_poison_event_in_a_batched_run_is_isolated_and_the_rest_commit(
    start_consuming: StartConsuming, topic: str, platform: Platform
) -> None:
    poison = envelope("test.batched", "poison-in-run")
    await publish(
        platform, topic, envelope("test.batched", "before"), poison, envelope("test.batched", "after")
    )
    recorder = await start_consuming()

    await eventually(lambda: _value(recorder.applied), until=lambda a: len(a) == 2, what="both applied")
    assert recorder.applied == ["before", "after"]
    [letter] = await dead_letters(platform, topic, expect=1)
    assert Envelope.model_validate_json(letter["value"]).id == poison.id
    # The run failed as a whole, then each event went alone: the poison one three times.
    assert recorder.runs[0] == ["before", "poison-in-run", "after"]
    assert recorder.runs[1:] == [["before"], *[["poison-in-run"]] * 3, ["after"]]


async def test_dead_letters_are_listed_with_their_error_and_one_can_be_replayed_alone(
    running: Recorder, topic: str, platform: Platform
) -> None:
    from shared.messaging.replay import list_dead_letters, replay_one

    first, second = envelope("test.poison", "listed-1"), envelope("test.poison", "listed-2")
    await publish(platform, topic, first, second)
    await dead_letters(platform, topic, expect=2)

    letters = await list_dead_letters(kafka=platform.kafka_bootstrap, topic=topic)
    assert [(letter.key, letter.event_type, letter.attempts) for letter in letters] == [
        ("same-key", "test.poison", "3"),
        ("same-key", "test.poison", "3"),
    ]
    assert all("cannot process listed-" in letter.error and not letter.replayed for letter in letters)
    assert {letter.consumer for letter in letters} == {"test-consumer"}
    assert all(letter.original.startswith(f"{topic}[") for letter in letters)

    running.fixed.add("listed-2")  # only the second one's cause is fixed: replay just that one
    chosen = letters[1]
    assert await replay_one(
        kafka=platform.kafka_bootstrap, topic=topic, partition=chosen.partition, offset=chosen.offset
    )
    assert not await replay_one(
        kafka=platform.kafka_bootstrap, topic=topic, partition=chosen.partition, offset=chosen.offset + 99
    )
    await eventually(
        lambda: _value(running.applied), until=lambda a: a == ["listed-2"], what="the replayed one applied"
    )
