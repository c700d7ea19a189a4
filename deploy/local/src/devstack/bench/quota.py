"""Quota consume latency (`POST billing /v1/orgs/{org_id}/meters/sessions/consume`), once it exists."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import aiohttp
import asyncpg

from devstack.bench.client import HTTP_ERRORS, Endpoints, http_session
from devstack.bench.config import SERVICE_KEY
from devstack.bench.report import Figure, Target, ms, percentile

NAME = "quota consume p99"
CONSUME_PATH = "/v1/orgs/{org_id}/meters/sessions/consume"
TARGET = Target("≤", 5)


async def known_org_ids(target: Endpoints, limit: int) -> list[str]:
    """Orgs the earlier phases created (identity's projection of memberships)."""
    connection = await asyncpg.connect(target.identity_db)
    try:
        rows = await connection.fetch("SELECT DISTINCT org_id FROM membership_views LIMIT $1", limit)
    finally:
        await connection.close()
    return [str(row["org_id"]) for row in rows]


def route_missing(status: int, openapi: dict[str, Any] | None) -> bool:
    """A 404/405 for a real org while billing's OpenAPI lists no such route: not built yet."""
    if status not in (404, 405):
        return False
    if openapi is None:
        return True
    return "post" not in openapi.get("paths", {}).get(CONSUME_PATH, {})


async def consume(session: aiohttp.ClientSession, target: Endpoints, org_id: str) -> int:
    """One consume with a fresh idempotency key; its HTTP status (0 when the request failed)."""
    url = target.billing_url + CONSUME_PATH.format(org_id=org_id)
    body = {"quantity": 1, "idempotency_key": uuid.uuid4().hex}
    try:
        async with session.post(url, json=body, headers={"X-Service-Key": SERVICE_KEY}) as response:
            await response.read()
            return response.status
    except HTTP_ERRORS:
        return 0


async def billing_openapi(session: aiohttp.ClientSession, target: Endpoints) -> dict[str, Any] | None:
    async with session.get(f"{target.billing_url}/openapi.json") as response:
        if response.status != 200:
            return None
        document: dict[str, Any] = await response.json()
        return document


async def paced_consumes(
    session: aiohttp.ClientSession,
    target: Endpoints,
    orgs: list[str],
    *,
    rate: int,
    count: int | None = None,
    until: Callable[[], bool] | None = None,
) -> tuple[list[float], Counter[int]]:
    """Consumes sent on a fixed schedule (open loop), cycling over `orgs`: `count` of them, or
    as many as are due before `until()` is true (the concurrent burst has ended)."""
    durations: list[float] = []
    statuses: Counter[int] = Counter()

    async def one(org_id: str) -> None:
        began = time.perf_counter()
        statuses[await consume(session, target, org_id)] += 1
        durations.append(time.perf_counter() - began)

    start = time.perf_counter() + 0.05
    tasks = []
    index = 0
    while (count is None or index < count) and not (until is not None and until()):
        delay = start + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(orgs[index % len(orgs)])))
        index += 1
    await asyncio.gather(*tasks)
    return durations, statuses


async def ready_orgs(session: aiohttp.ClientSession, target: Endpoints) -> tuple[list[str], str | None]:
    """Orgs to consume for, or why the phase cannot be measured."""
    orgs = await known_org_ids(target, limit=5000)
    if not orgs:
        return [], "not measured — no org to consume for"
    probe = await consume(session, target, orgs[0])
    if route_missing(probe, await billing_openapi(session, target)):
        return [], f"not measured — endpoint not built yet (POST {CONSUME_PATH} answered {probe})"
    return orgs, None


def quota_figure(
    name: str, durations: list[float], statuses: Counter[int], *, rate: int, orgs: int, how_long: str
) -> Figure:
    """p99 as the value; p50, max and every status counted in the conditions."""
    if not durations:
        return Figure(name, None, "ms", "no consume was sent", TARGET)
    values = [ms(d) for d in durations]
    answered = ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items()))
    return Figure(
        name,
        percentile(values, 99),
        "ms",
        f"{len(values):,} consumes at {rate}/s on a fixed schedule {how_long} over {orgs:,} orgs, "
        f"unique idempotency keys; answered {answered}; p50 {percentile(values, 50):.1f} ms, "
        f"max {max(values):.1f} ms",
        TARGET,
    )


async def run_quota(target: Endpoints, *, rate: int, seconds: float) -> Figure:
    """Consumes alone: `rate` per second for `seconds`."""
    async with http_session(256) as session:
        orgs, why_not = await ready_orgs(session, target)
        if why_not is not None:
            return Figure(NAME, None, "ms", why_not, TARGET)
        count = round(rate * seconds)
        durations, statuses = await paced_consumes(session, target, orgs, rate=rate, count=count)
    return quota_figure(NAME, durations, statuses, rate=rate, orgs=len(orgs), how_long=f"for {seconds:g} s")
