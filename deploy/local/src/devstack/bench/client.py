"""The load generator's pieces: pre-signed signups, posting them, and seeing their claims complete."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg
import httpx

from devstack.bench.config import AUTH_SECRET, SERVICE_KEY
from devstack.webhooks import clerk_user_created, signed_delivery

# Claims are complete when the user's active org, its membership and its plan are all known
# (what GET /v1/users/{id}/claims joins; superuser connections bypass row-level security).
COMPLETE_CLAIMS_SQL = """
SELECT count(*)
FROM user_claims c
JOIN membership_views m ON m.user_id = c.user_id AND m.org_id = c.active_org_id
JOIN org_plan_views p ON p.org_id = c.active_org_id
WHERE c.user_id = ANY($1::text[])
"""


@dataclass
class Signup:
    """One auth-provider `user.created` delivery, signed before the timed phase starts."""

    user_id: str
    body: bytes
    headers: dict[str, str]
    posted_at: float | None = None  # perf_counter when its POST started
    answered_at: float | None = None
    status: int | None = None  # HTTP status, 0 when the request failed
    answered: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def presign(count: int) -> list[Signup]:
    """`count` new users' signup deliveries, signed as the auth provider signs them."""
    signups = []
    for _ in range(count):
        user_id = f"user_{uuid.uuid4().hex[:24]}"
        payload = clerk_user_created(user_id=user_id, email=f"{user_id}@example.com", first_name="Ada")
        body, headers = signed_delivery(payload, secret=AUTH_SECRET)
        signups.append(Signup(user_id, body, headers))
    return signups


@dataclass(frozen=True)
class Endpoints:
    """Where the platform under test answers."""

    identity_url: str
    billing_url: str
    identity_db: str
    kafka_bootstrap: str


async def post_signup(client: httpx.AsyncClient, target: Endpoints, signup: Signup) -> None:
    """POST the delivery; record when it started, when it was answered and how."""
    signup.posted_at = time.perf_counter()
    try:
        response = await client.post(
            f"{target.identity_url}/v1/webhooks/auth", content=signup.body, headers=signup.headers
        )
        signup.status = response.status_code
    except httpx.HTTPError:
        signup.status = 0
    signup.answered_at = time.perf_counter()
    signup.answered.set()


async def has_complete_claims(client: httpx.AsyncClient, target: Endpoints, user_id: str) -> bool:
    """What a real client asks: do this user's claims name a plan yet?"""
    response = await client.get(
        f"{target.identity_url}/v1/users/{user_id}/claims", headers={"X-Service-Key": SERVICE_KEY}
    )
    return response.status_code == 200 and response.json().get("plan") is not None


async def count_complete(target: Endpoints, user_ids: Sequence[str]) -> int:
    """How many of these users have complete claims, by one SQL count in identity's database."""
    connection = await asyncpg.connect(target.identity_db)
    try:
        return int(await connection.fetchval(COMPLETE_CLAIMS_SQL, list(user_ids)))
    finally:
        await connection.close()


async def wait_complete(target: Endpoints, user_ids: Sequence[str], *, deadline: float) -> tuple[int, float]:
    """Count (by SQL, twice a second) until all are complete or `deadline` seconds pass.

    Returns how many were complete at the end and when (perf_counter)."""
    give_up = time.perf_counter() + deadline
    while True:
        done = await count_complete(target, user_ids)
        now = time.perf_counter()
        if done >= len(user_ids) or now > give_up:
            return done, now
        await asyncio.sleep(0.5)
