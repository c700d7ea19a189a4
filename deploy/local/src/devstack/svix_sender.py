"""Send signup webhooks the way the auth provider (Svix) does, retries included.

A delivery that is not answered 2xx (connection refused or reset, a 5xx, a timeout) is sent
again with the same `svix-id` and the same body, re-signed, after a short backoff, until it is
accepted or its deadline passes.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from devstack.webhooks import new_signup, signed_delivery


@dataclass(frozen=True)
class Delivery:
    user_id: str
    delivery_id: str
    body: bytes


def signup_deliveries(count: int) -> list[Delivery]:
    """`count` Clerk `user.created` deliveries for new users, each with its fixed id and body."""
    deliveries = []
    for _ in range(count):
        user_id, payload = new_signup()
        deliveries.append(Delivery(user_id, f"msg_{uuid.uuid4().hex}", json.dumps(payload).encode()))
    return deliveries


@dataclass
class BurstResult:
    accepted: list[str] = field(default_factory=list)  # user ids whose delivery was answered 2xx
    abandoned: list[str] = field(default_factory=list)  # not accepted before the deadline
    attempts: int = 0
    retried: int = 0  # deliveries that needed more than one attempt
    outcomes: Counter[str] = field(default_factory=Counter)  # "200", "500", "ConnectError", ...

    def summary(self) -> str:
        seen = ", ".join(f"{what} x{n}" for what, n in self.outcomes.most_common())
        return (
            f"{len(self.accepted)} accepted, {len(self.abandoned)} abandoned, {self.attempts} attempts, "
            f"{self.retried} deliveries retried ({seen})"
        )


async def deliver(
    client: httpx.AsyncClient, delivery: Delivery, *, secret: str, deadline: float, result: BurstResult
) -> bool:
    """Send until answered 2xx (True) or the deadline (a time.monotonic() value) passes (False)."""
    backoff = 0.1
    for attempt in range(1, 1_000_000):
        body, headers = signed_delivery(delivery.body, secret=secret, delivery_id=delivery.delivery_id)
        result.attempts += 1
        try:
            response = await client.post("/v1/webhooks/auth", content=body, headers=headers)
            outcome = str(response.status_code)
            accepted = response.is_success
        except httpx.HTTPError as error:
            outcome, accepted = type(error).__name__, False
        result.outcomes[outcome] += 1
        if accepted:
            result.retried += attempt > 1
            return True
        if time.monotonic() + backoff > deadline:
            return False
        await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
        backoff = min(backoff * 2, 2.0)
    return False


async def send_burst(
    base_url: str,
    deliveries: Sequence[Delivery],
    *,
    secret: str,
    senders: int = 16,
    rate: float | None = None,
    flush: asyncio.Event | None = None,
    deadline_seconds: float = 60,
    result: BurstResult | None = None,
) -> BurstResult:
    """Deliver everything with `senders` concurrent senders.

    With a `rate`, deliveries are released at that many per second (so a burst lasts long enough
    for what happens meanwhile), and all that remain at once when `flush` is set. Each delivery
    has `deadline_seconds` from its release to be accepted. Pass a `result` to watch deliveries
    being accepted while the burst goes on.
    """
    result = BurstResult() if result is None else result
    queue: asyncio.Queue[Delivery | None] = asyncio.Queue()

    async def release() -> None:
        for delivery in deliveries:
            queue.put_nowait(delivery)
            if rate and not (flush and flush.is_set()):
                await asyncio.sleep(1 / rate)
        for _ in range(senders):
            queue.put_nowait(None)

    async def sender(client: httpx.AsyncClient) -> None:
        while (delivery := await queue.get()) is not None:
            deadline = time.monotonic() + deadline_seconds
            if await deliver(client, delivery, secret=secret, deadline=deadline, result=result):
                result.accepted.append(delivery.user_id)
            else:
                result.abandoned.append(delivery.user_id)

    limits = httpx.Limits(max_connections=senders)
    async with httpx.AsyncClient(base_url=base_url, timeout=10, limits=limits) as client:
        await asyncio.gather(release(), *(sender(client) for _ in range(senders)))
    return result
