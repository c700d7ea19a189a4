"""Pruning: old sent outbox rows and old inbox entries go; unsent rows and recent ones stay."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import text

from shared.db.session import Database
from shared.retention import Housekeeper


async def insert_outbox(database: Database, *, sent_ago: timedelta | None) -> None:
    async with database.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO outbox (event_id, event_type, topic, key, value, headers, sent_at) "
                "VALUES (:id, 'test.event', 'test', 'k', '\\x00', '{}', now() - CAST(:ago AS interval))"
            ),
            {"id": uuid.uuid4(), "ago": sent_ago},
        )


async def insert_inbox(database: Database, *, processed_ago: timedelta) -> None:
    async with database.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO inbox (consumer, event_id, event_type, processed_at) "
                "VALUES ('test', :id, 'test.event', now() - CAST(:ago AS interval))"
            ),
            {"id": uuid.uuid4(), "ago": processed_ago},
        )


async def counts(database: Database) -> tuple[int, int, int]:
    async with database.engine.connect() as connection:
        sent = await connection.scalar(text("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL"))
        unsent = await connection.scalar(text("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
        inbox = await connection.scalar(text("SELECT count(*) FROM inbox"))
    return int(sent or 0), int(unsent or 0), int(inbox or 0)


async def test_housekeeping_prunes_only_what_is_old_and_done(scratch_db: Database) -> None:
    await insert_outbox(scratch_db, sent_ago=timedelta(days=4))
    await insert_outbox(scratch_db, sent_ago=timedelta(hours=1))
    await insert_outbox(scratch_db, sent_ago=None)  # never sent: must stay, whatever its age
    await insert_inbox(scratch_db, processed_ago=timedelta(days=20))
    await insert_inbox(scratch_db, processed_ago=timedelta(days=1))
    housekeeper = Housekeeper(
        database=scratch_db, outbox_retention=timedelta(days=3), inbox_retention=timedelta(days=14)
    )

    assert await housekeeper.run_once() == (1, 1)
    assert await counts(scratch_db) == (1, 1, 1)
