"""Group commit: concurrent items share transactions, each caller gets its own result or error."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.group_commit import GroupCommit
from shared.db.session import Database


async def test_concurrent_items_share_transactions_and_each_gets_its_result(scratch_db: Database) -> None:
    async with scratch_db.engine.begin() as connection:
        await connection.execute(text("CREATE TABLE words (word text PRIMARY KEY)"))
    transactions: list[list[str]] = []

    async def insert(session: AsyncSession, words: Sequence[str]) -> list[str]:
        transactions.append(list(words))
        result = await session.execute(
            text(
                "INSERT INTO words SELECT unnest(CAST(:words AS text[])) "
                "ON CONFLICT DO NOTHING RETURNING word"
            ),
            {"words": list(words)},
        )
        fresh = {row[0] for row in result}
        answers = []
        for word in words:  # twice in one group: the first is new
            answers.append("new" if word in fresh else "seen")
            fresh.discard(word)
        return answers

    committer: GroupCommit[str, str] = GroupCommit(name="words", database=scratch_db, apply=insert)
    try:
        words = [f"w{n}" for n in range(100)]
        answers = await asyncio.gather(*(committer.submit(word) for word in [*words, "w1"]))
    finally:
        await committer.stop()

    assert answers[:100] == ["new"] * 100
    assert answers[100] == "seen"  # the same word again: the row exists once
    assert len(transactions) < 101 / 4  # shared: far fewer transactions than items
    async with scratch_db.engine.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM words"))).scalar() == 100


async def test_a_failing_item_fails_only_its_own_caller(scratch_db: Database) -> None:
    async def apply(session: AsyncSession, items: Sequence[int]) -> list[int]:
        for item in items:
            if item < 0:
                await session.execute(text("SELECT 1 / 0"))  # the whole transaction fails
        return [item * 2 for item in items]

    committer: GroupCommit[int, int] = GroupCommit(name="numbers", database=scratch_db, apply=apply)
    try:
        results = await asyncio.gather(
            *(committer.submit(n) for n in [1, 2, -3, 4, 5]), return_exceptions=True
        )
    finally:
        await committer.stop()

    assert [r for r in results if not isinstance(r, BaseException)] == [2, 4, 8, 10]
    [failure] = [r for r in results if isinstance(r, BaseException)]
    assert "division by zero" in str(failure)
    assert results[2] is failure


@pytest.mark.parametrize("writers", [1, 2])
async def test_a_lone_item_is_written_at_once(scratch_db: Database, writers: int) -> None:
    async def apply(session: AsyncSession, items: Sequence[str]) -> list[str]:
        return [
            str((await session.execute(text("SELECT upper(:s)"), {"s": item})).scalar()) for item in items
        ]

    committer: GroupCommit[str, str] = GroupCommit(
        name="lone", database=scratch_db, apply=apply, writers=writers
    )
    try:
        assert await asyncio.wait_for(committer.submit("alone"), timeout=5) == "ALONE"
    finally:
        await committer.stop()
