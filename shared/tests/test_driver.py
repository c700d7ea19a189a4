"""Statements sent on a session's asyncpg connection (shared.db.driver) belong to its transaction."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from shared.db.driver import driver_connection
from shared.db.session import Database
from shared.events.schemas.identity import UserCreated
from shared.inbox import claim_events
from shared.outbox import record_event


class Rollback(Exception):
    pass


async def _count(database: Database, sql: str) -> int:
    async with database.engine.connect() as connection:
        return int((await connection.execute(text(sql))).scalar() or 0)


async def test_a_rolled_back_unit_of_work_keeps_nothing_written_on_its_driver_connection(
    scratch_db: Database,
) -> None:
    """The first statement of a unit of work may go straight to asyncpg (the inbox claim): it must
    not run in autocommit. Were it to, the claim and the outbox row would survive the rollback."""
    event_id = uuid.uuid4()
    with pytest.raises(Rollback):
        async with scratch_db.unit_of_work() as session:
            assert await claim_events(session, consumer="test", events=[(event_id, "test.ok")]) == {event_id}
            await record_event(
                session, source="test", subject="u1", data=UserCreated(user_id="u1", email="a@x.io")
            )
            assert (await driver_connection(session)).is_in_transaction()
            raise Rollback
    assert await _count(scratch_db, f"SELECT count(*) FROM inbox WHERE event_id = '{event_id}'") == 0
    assert await _count(scratch_db, "SELECT count(*) FROM outbox WHERE key = 'u1'") == 0


async def test_a_claim_is_committed_with_its_unit_of_work_and_a_second_claim_is_a_duplicate(
    scratch_db: Database,
) -> None:
    event_id = uuid.uuid4()
    async with scratch_db.unit_of_work() as session:
        assert await claim_events(session, consumer="test", events=[(event_id, "test.ok")]) == {event_id}
    async with scratch_db.unit_of_work() as session:
        assert await claim_events(session, consumer="test", events=[(event_id, "test.ok")]) == set()
