"""Refused Skool deliveries are counted without a database write per request (issue 15): in
memory, added to `skool_rejections` in one statement per flush interval (docs/skool.md)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import asyncpg
import httpx

from devstack.platform import Platform
from devstack.pytest_plugin import TEST_OPERATOR_KEY
from devstack.services import Fleet
from devstack.sql import fetchval
from devstack.testing import eventually, service_db
from skool_ingest.settings import SkoolIngestSettings
from skool_ingest.signature import HEADER, sign

# The test platform keeps the default flush interval.
FLUSH_SECONDS = SkoolIngestSettings.model_fields["rejection_flush_seconds"].default


def forged() -> tuple[bytes, str]:
    """A delivery signed with the wrong secret: refused as `signature_mismatch`."""
    body = json.dumps(
        {"event": "member.subscribed", "email": f"x-{uuid.uuid4().hex[:8]}@example.com"}
    ).encode()
    return body, sign(secret="not-the-secret", timestamp=int(time.time()), body=body)


async def send_forged(fleet: Fleet, count: int, *, timeout: float = 10) -> list[int]:
    async with httpx.AsyncClient(base_url=fleet["skool-ingest"].url, timeout=timeout) as client:

        async def one() -> int:
            body, signature = forged()
            response = await client.post("/v1/webhooks/skool", content=body, headers={HEADER: signature})
            return response.status_code

        return list(await asyncio.gather(*(one() for _ in range(count))))


async def in_table(platform: Platform, reason: str = "signature_mismatch") -> int:
    value = await fetchval(
        service_db(platform, "skool-ingest"), "SELECT count FROM skool_rejections WHERE reason = $1", reason
    )
    return int(value or 0)


async def reported(fleet: Fleet, reason: str = "signature_mismatch") -> int:
    async with httpx.AsyncClient(base_url=fleet["skool-ingest"].url, timeout=10) as client:
        response = await client.get(
            "/v1/webhooks/skool/rejections", headers={"X-Service-Key": TEST_OPERATOR_KEY}
        )
    assert response.status_code == 200, response.text
    return int(response.json()["rejections"].get(reason, 0))


async def test_refusals_are_answered_while_the_counter_table_is_locked(
    services: Fleet, platform: Platform
) -> None:
    # An exclusive lock on skool_rejections: any request that wrote to it would wait here.
    await send_forged(services, 1)  # the row exists, and so does the service's pool
    await eventually(lambda: in_table(platform), until=lambda n: n > 0, timeout=FLUSH_SECONDS + 5)
    locker = await asyncpg.connect(service_db(platform, "skool-ingest"))
    try:
        transaction = locker.transaction()
        await transaction.start()
        await locker.execute("LOCK TABLE skool_rejections IN ACCESS EXCLUSIVE MODE")
        before = await locker.fetchval(
            "SELECT count FROM skool_rejections WHERE reason = 'signature_mismatch'"
        )
        started = time.monotonic()

        statuses = await send_forged(services, 20, timeout=5)

        answered_in = time.monotonic() - started
        await transaction.rollback()
    finally:
        await locker.close()
    assert statuses == [401] * 20
    assert answered_in < 5
    # Once the lock is gone, the flusher's one write lands.
    await eventually(
        lambda: in_table(platform),
        until=lambda n: n >= before + 20,
        timeout=FLUSH_SECONDS + 5,
        what="flushed",
    )


async def test_a_burst_of_refusals_reaches_the_table_within_the_flush_interval(
    services: Fleet, platform: Platform
) -> None:
    async def table_and_reported() -> tuple[int, int]:
        return await in_table(platform), await reported(services)

    # Start from a flushed state (earlier tests' refusals may still be pending in the replica).
    stored_before, reported_before = await eventually(
        table_and_reported, until=lambda both: both[0] == both[1], timeout=FLUSH_SECONDS + 5
    )

    statuses = await send_forged(services, 50)
    sent_at = time.monotonic()

    assert statuses == [401] * 50
    # The operator read counts them at once (the table plus this replica's pending counts) ...
    assert await reported(services) == reported_before + 50
    # ... and the table has them within one flush interval (plus the write itself).
    await eventually(
        lambda: in_table(platform),
        until=lambda n: n == stored_before + 50,
        timeout=FLUSH_SECONDS + 2,
        what="flushed",
    )
    assert time.monotonic() - sent_at < FLUSH_SECONDS + 2
    assert await reported(services) == reported_before + 50
