"""Helpers for tests that run against the real platform: factories, polling, SQL, Kafka offsets."""

from __future__ import annotations

import asyncio
import email
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from email.message import Message
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaProducer, TopicPartition

from devstack.groups import committed_offsets
from devstack.kafka import end_offsets
from devstack.platform import Platform
from devstack.postgres import database_url
from devstack.pytest_plugin import TEST_AUTH_SECRET, TEST_SERVICE_KEY, TEST_TOKEN_MINT_KEY
from devstack.services import Fleet
from devstack.sql import fetch as fetch  # re-exported: tests import it from here
from devstack.sql import fetchval
from devstack.status import Status, collect_status
from devstack.webhooks import clerk_user_created, clerk_user_deleted, signed_delivery
from devstack.webhooks import new_user_id as new_user_id  # re-exported: tests import it from here
from shared.messaging.kafka_connection import KafkaTarget, as_connection

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]],
    *,
    until: Callable[[T], bool],
    timeout: float = 30,
    interval: float = 0.02,
    what: str = "condition",
) -> T:
    """Poll `probe` until `until(result)` holds; fail with the last result at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if until(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s; last value: {result!r}")
        await asyncio.sleep(interval)


def eventually_blocking(
    probe: Callable[[], T], *, until: Callable[[T], bool], what: str, timeout: float = 30
) -> T:
    """`eventually` for synchronous tests (a platform driven through a shell or a sync client)."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if until(found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s; last value: {found!r}")
        time.sleep(0.05)


async def wait_consumed(kafka: KafkaTarget, *, group: str, topic: str, timeout: float = 30) -> None:
    """Wait until `group` has committed every record now on `topic` (it saw them all)."""
    targets = await end_offsets(kafka, [topic])

    async def committed() -> dict[TopicPartition, int]:
        offsets = await committed_offsets(kafka, group)
        return {tp: offset for tp, offset in offsets.items() if tp.topic == topic}

    await eventually(
        committed,
        until=lambda done: all(done.get(tp, 0) >= end for tp, end in targets.items() if end > 0),
        timeout=timeout,
        interval=0.05,
        what=f"{group} consumed {topic}",
    )


async def publish(kafka: KafkaTarget, topic: str, *, key: str, value: bytes, times: int = 1) -> None:
    """Put a record on a topic as a service's outbox relay would (key = the event's subject, value
    = `Envelope.to_bytes()`); `times` > 1 delivers the very same event again (a redelivery)."""
    producer = AIOKafkaProducer(**as_connection(kafka).client_kwargs())
    await producer.start()
    try:
        for _ in range(times):
            await producer.send_and_wait(topic, value=value, key=key.encode())
    finally:
        await producer.stop()


# --- signup factories and probes -------------------------------------------------


def signup_delivery(
    *,
    user_id: str,
    first_name: str | None = "Ada",
    email: str | None = None,
    secret: str = TEST_AUTH_SECRET,
    delivery_id: str | None = None,
    timestamp: datetime | None = None,
    event_type: str = "user.created",
    updated_at_ms: int | None = None,
    email_verified: bool = True,
) -> tuple[bytes, dict[str, str]]:
    payload = clerk_user_created(
        user_id=user_id,
        email=email or f"{user_id}@example.com",
        first_name=first_name,
        event_type=event_type,
        updated_at_ms=updated_at_ms,
        email_verified=email_verified,
    )
    return signed_delivery(payload, secret=secret, delivery_id=delivery_id, timestamp=timestamp)


async def post_auth_webhook(fleet: Fleet, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=fleet["identity"].url, timeout=10) as client:
        return await client.post("/v1/webhooks/auth", content=body, headers=headers)


async def read_claims(fleet: Fleet, user_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=fleet["identity"].url, timeout=10) as client:
        response = await client.get(
            f"/v1/users/{user_id}/claims", headers={"X-Service-Key": TEST_SERVICE_KEY}
        )
    return {"status": response.status_code, **response.json()}


async def complete_claims(fleet: Fleet, user_id: str, timeout: float = 30) -> dict[str, Any]:
    """Poll (no sleeps) until the user's claims name a plan."""
    return await eventually(
        lambda: read_claims(fleet, user_id),
        until=lambda claims: bool(claims.get("plan")),
        timeout=timeout,
        what=f"complete claims for {user_id}",
    )


async def request_token(
    fleet: Fleet, user_id: str, *, org_id: str | None = None, service_key: str = TEST_TOKEN_MINT_KEY
) -> httpx.Response:
    """`POST identity /v1/tokens` as a trusted backend; the raw answer (for tests of its errors)."""
    body: dict[str, str] = {"user_id": user_id}
    if org_id is not None:
        body["org_id"] = org_id
    async with httpx.AsyncClient(base_url=fleet["identity"].url, timeout=10) as client:
        return await client.post("/v1/tokens", json=body, headers={"X-Service-Key": service_key})


async def bearer_token(fleet: Fleet, user_id: str, *, org_id: str | None = None) -> str:
    """An access token for the user (for `org_id`, which becomes their active org, else their
    active org); use it as `{"Authorization": f"Bearer {token}"}`."""
    response = await request_token(fleet, user_id, org_id=org_id)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    """The request headers that carry a bearer token."""
    return {"Authorization": f"Bearer {token}"}


async def call_service(
    fleet: Fleet,
    service: str,
    method: str,
    path: str,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """One request to a service of the test platform, with a bearer `token` if given."""
    headers = {**(bearer(token) if token else {}), **(headers or {})}
    async with httpx.AsyncClient(base_url=fleet[service].url, timeout=10) as client:
        return await client.request(method, path, headers=headers, **kwargs)


def new_slug(prefix: str = "team") -> str:
    """A slug no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def service_db(platform: Platform, service: str) -> str:
    return database_url(platform.database_url, service.replace("-", "_"))


async def count(platform: Platform, service: str, sql: str, *args: Any) -> int:
    return int(await fetchval(service_db(platform, service), sql, *args))


async def sign_up(fleet: Fleet) -> tuple[str, dict[str, Any]]:
    """A new user signs up; returns their id and their complete claims."""
    user_id = new_user_id()
    body, headers = signup_delivery(user_id=user_id)
    response = await post_auth_webhook(fleet, body, headers)
    assert response.status_code == 200, response.text
    return user_id, await complete_claims(fleet, user_id)


async def delete_user(fleet: Fleet, user_id: str) -> None:
    """The auth provider deletes the user: a signed `user.deleted` delivery to identity."""
    body, headers = signed_delivery(clerk_user_deleted(user_id=user_id), secret=TEST_AUTH_SECRET)
    response = await post_auth_webhook(fleet, body, headers)
    assert response.status_code == 200, response.text


def mails_to(platform: Platform, address: str) -> list[Message]:
    """The messages the SMTP sink holds for `address`, oldest first. Other tests' mail may hold
    any bytes in any header (the API fuzzing sends to odd addresses): read as text, never parsed
    strictly."""
    found = []
    for path in sorted((platform.root / "mail").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes())
        if address in str(message.get("X-Envelope-To") or ""):
            found.append(message)
    return found


async def settled_status(platform: Platform, *, timeout: float = 30) -> Status:
    """`devstack status` once every outbox is published and every consumer group is at the end of
    every topic it reads (`Status.settled`)."""
    return await eventually(
        lambda: collect_status(kafka=platform.kafka_connection(), database_url=platform.database_url),
        until=lambda status: status.settled,
        timeout=timeout,
        interval=0.2,
        what="every outbox published and every group caught up",
    )
