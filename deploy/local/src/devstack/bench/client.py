"""The load generator's pieces: pre-signed signups, posting them, and seeing their claims complete.

HTTP goes through aiohttp: on this 2-core machine it costs the client about a tenth of the CPU
per request that httpx does, so the load generator does not starve what it measures.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp
import asyncpg

from devstack.bench.config import AUTH_SECRET, SERVICE_KEY
from devstack.webhooks import new_signup, signed_delivery
from shared.messaging.kafka_connection import KafkaTarget

# Claims are complete when the user's active org, its membership and its plan are all known
# (what GET /v1/users/{id}/claims joins; superuser connections bypass row-level security).
COMPLETE_CLAIMS_SQL = """
SELECT count(*)
FROM user_claims c
JOIN membership_views m ON m.user_id = c.user_id AND m.org_id = c.active_org_id
JOIN org_plan_views p ON p.org_id = c.active_org_id
WHERE c.user_id = ANY($1::text[])
"""
HTTP_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError)
REQUEST_TIMEOUT = 30.0  # seconds; a request still unanswered then counts as "no answer"


def http_session(connections: int, *, timeout: float = REQUEST_TIMEOUT) -> aiohttp.ClientSession:
    """A pooled client; idle connections are dropped before uvicorn's 5 s keep-alive would."""
    connector = aiohttp.TCPConnector(limit=connections, keepalive_timeout=3)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout))


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

    @property
    def answer_seconds(self) -> float | None:
        if self.posted_at is None or self.answered_at is None:
            return None
        return self.answered_at - self.posted_at


def presign(count: int) -> list[Signup]:
    """`count` new users' signup deliveries, signed as the auth provider signs them."""
    signups = []
    for _ in range(count):
        user_id, payload = new_signup()
        body, headers = signed_delivery(payload, secret=AUTH_SECRET)
        signups.append(Signup(user_id, body, headers))
    return signups


def refusals(signups: Sequence[Signup]) -> str:
    """The answers that were not 2xx, e.g. "12 not 2xx (no answer in 30 s: 2, 500: 10)", or "all 2xx"."""
    counts = Counter(s.status for s in signups if not s.accepted)
    if not counts:
        return "all 2xx"
    silent = f"no answer in {REQUEST_TIMEOUT:g} s"
    parts = [f"{status or silent}: {n}" for status, n in sorted(counts.items(), key=str)]
    return f"{sum(counts.values())} not 2xx ({', '.join(parts)})"


@dataclass(frozen=True)
class Endpoints:
    """Where the platform under test answers."""

    identity_url: str
    billing_url: str
    identity_db: str
    kafka: KafkaTarget  # how the bench reads identity.users (the admin on a secured broker)
    # How `identity_db` says which users are complete (the peer's differs: devstack.bench.peer).
    complete_sql: str = COMPLETE_CLAIMS_SQL


async def post_signup(session: aiohttp.ClientSession, target: Endpoints, signup: Signup) -> None:
    """POST the delivery; record when it started, when it was answered and how."""
    signup.posted_at = time.perf_counter()
    try:
        async with session.post(
            f"{target.identity_url}/v1/webhooks/auth", data=signup.body, headers=signup.headers
        ) as response:
            await response.read()
            signup.status = response.status
    except HTTP_ERRORS:
        signup.status = 0
    signup.answered_at = time.perf_counter()
    signup.answered.set()


@dataclass
class ClaimsPoller:
    """Asks what a real client asks, `GET /v1/users/{id}/claims`, never more than `per_second`."""

    session: aiohttp.ClientSession
    target: Endpoints
    per_second: float
    reads: int = 0
    failures: int = 0  # transport errors, read as "not yet"
    _next_slot: float = 0.0

    async def complete(self, user_id: str) -> bool:
        """Do this user's claims name a plan yet? (Waits for its turn under the rate cap.)"""
        await self._turn()
        self.reads += 1
        url = f"{self.target.identity_url}/v1/users/{user_id}/claims"
        try:
            async with self.session.get(url, headers={"X-Service-Key": SERVICE_KEY}) as response:
                if response.status != 200:
                    await response.read()
                    return False
                claims = await response.json()
        except HTTP_ERRORS:
            self.failures += 1
            return False
        return claims.get("plan") is not None

    async def _turn(self) -> None:
        now = time.perf_counter()
        slot = max(now, self._next_slot)
        self._next_slot = slot + 1 / self.per_second
        if slot > now:
            await asyncio.sleep(slot - now)


async def count_complete(
    connection: asyncpg.Connection, user_ids: Sequence[str], *, sql: str = COMPLETE_CLAIMS_SQL
) -> int:
    """How many of these users have complete claims, by one SQL count in identity's database."""
    return int(await connection.fetchval(sql, list(user_ids)))


async def wait_complete(target: Endpoints, user_ids: Sequence[str], *, deadline: float) -> tuple[int, float]:
    """Count (by SQL, twice a second) until all are complete or `deadline` seconds pass.

    Returns how many were complete at the end and when (perf_counter)."""
    give_up = time.perf_counter() + deadline
    connection = await asyncpg.connect(target.identity_db)
    try:
        while True:
            done = await count_complete(connection, user_ids, sql=target.complete_sql)
            now = time.perf_counter()
            if done >= len(user_ids) or now > give_up:
                return done, now
            await asyncio.sleep(0.5)
    finally:
        await connection.close()
