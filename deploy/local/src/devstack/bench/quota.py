"""Quota consume latency (`POST billing /v1/orgs/{org_id}/meters/sessions/consume`), once it exists."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter

import asyncpg
import httpx

from devstack.bench.client import Endpoints
from devstack.bench.config import SERVICE_KEY
from devstack.bench.report import Figure, Target, ms, percentile

NAME = "quota consume p99"
CONSUME_PATH = "/v1/orgs/{org_id}/meters/sessions/consume"
TARGET = Target("≤", 5)


def consume_url(target: Endpoints, org_id: str) -> str:
    return target.billing_url + CONSUME_PATH.format(org_id=org_id)


async def known_org_ids(target: Endpoints, limit: int) -> list[str]:
    """Orgs the earlier phases created (identity's projection of memberships)."""
    connection = await asyncpg.connect(target.identity_db)
    try:
        rows = await connection.fetch("SELECT DISTINCT org_id FROM membership_views LIMIT $1", limit)
    finally:
        await connection.close()
    return [str(row["org_id"]) for row in rows]


async def route_missing(client: httpx.AsyncClient, target: Endpoints, probe: httpx.Response) -> bool:
    """A 404/405 for a real org while billing's OpenAPI lists no such route: not built yet."""
    if probe.status_code not in (404, 405):
        return False
    schema = await client.get(f"{target.billing_url}/openapi.json")
    if schema.status_code != 200:
        return True
    return "post" not in schema.json().get("paths", {}).get(CONSUME_PATH, {})


async def consume(client: httpx.AsyncClient, target: Endpoints, org_id: str) -> httpx.Response:
    return await client.post(
        consume_url(target, org_id),
        json={"quantity": 1, "idempotency_key": uuid.uuid4().hex},
        headers={"X-Service-Key": SERVICE_KEY},
    )


async def run_quota(target: Endpoints, *, rate: int, seconds: float) -> Figure:
    orgs = await known_org_ids(target, limit=5000)
    if not orgs:
        return Figure(NAME, None, "ms", "not measured — no org to consume for", TARGET)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=256), timeout=30) as client:
        probe = await consume(client, target, orgs[0])
        if await route_missing(client, target, probe):
            return Figure(
                NAME,
                None,
                "ms",
                f"not measured — endpoint not built yet (POST …/meters/sessions/consume answered "
                f"{probe.status_code})",
                TARGET,
            )
        durations: list[float] = []
        statuses: Counter[int] = Counter()

        async def one(org_id: str) -> None:
            began = time.perf_counter()
            response = await consume(client, target, org_id)
            durations.append(time.perf_counter() - began)
            statuses[response.status_code] += 1

        count = round(rate * seconds)
        start = time.perf_counter() + 0.05
        tasks = []
        for index in range(count):
            delay = start + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(orgs[index % len(orgs)])))
        await asyncio.gather(*tasks)
    values = [ms(d) for d in durations]
    answered = ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items()))
    return Figure(
        NAME,
        percentile(values, 99),
        "ms",
        f"{count:,} consumes at {rate}/s on a fixed schedule for {seconds:g} s over {len(orgs):,} orgs, "
        f"unique idempotency keys; answered {answered}; p50 {percentile(values, 50):.1f} ms, "
        f"max {max(values):.1f} ms",
        TARGET,
    )
