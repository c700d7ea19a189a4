"""Driver SQL (shared.db.driver) belongs to the session's transaction, and a dropped connection
under it is an infrastructure error that the next unit of work recovers from."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from sqlalchemy import text

from devstack.platform import Platform
from shared.db.session import Database
from shared.errors import is_infrastructure_error
from shared.events.schemas.identity import UserCreated
from shared.inbox import claim_events
from shared.outbox import record_event


class Rollback(Exception):
    pass


async def _count(database: Database, sql: str) -> int:
    async with database.engine.connect() as connection:
        return int((await connection.execute(text(sql))).scalar() or 0)


async def test_a_rolled_back_unit_of_work_keeps_nothing_its_driver_sql_wrote(scratch_db: Database) -> None:
    """The inbox claim may be a unit of work's first statement: it must not run on its own.
    Were it to, the claim and the outbox row would survive the rollback."""
    event_id = uuid.uuid4()
    with pytest.raises(Rollback):
        async with scratch_db.unit_of_work() as session:
            assert await claim_events(session, consumer="test", events=[(event_id, "test.ok")]) == {event_id}
            await record_event(
                session, source="test", subject="u1", data=UserCreated(user_id="u1", email="a@x.io")
            )
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


async def test_a_connection_dropped_under_driver_sql_is_an_outage_and_the_pool_recovers(
    scratch_db: Database, platform: Platform
) -> None:
    """What `kill -9` of PostgreSQL does to a pooled connection: the claim fails as an
    infrastructure error (the consumer redelivers, never dead-letters), and the dead connection
    is not handed out again."""
    with pytest.raises(Exception) as failure:
        async with scratch_db.unit_of_work() as session:
            pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar()
            admin = await asyncpg.connect(platform.database_url)
            try:
                await admin.execute("SELECT pg_terminate_backend($1)", pid)
            finally:
                await admin.close()
            await claim_events(session, consumer="test", events=[(uuid.uuid4(), "test.ok")])
    assert is_infrastructure_error(failure.value), repr(failure.value)

    event_id = uuid.uuid4()
    async with scratch_db.unit_of_work() as session:
        assert await claim_events(session, consumer="test", events=[(event_id, "test.ok")]) == {event_id}
