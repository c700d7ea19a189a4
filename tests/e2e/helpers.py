"""Small keyword-only factories and probes for the end-to-end tests."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx

from devstack.platform import Platform
from devstack.pytest_plugin import TEST_AUTH_SECRET, TEST_SERVICE_KEY
from devstack.services import Fleet
from devstack.testing import database_url, eventually, fetchval
from devstack.webhooks import clerk_user_created, signed_delivery


def new_user_id() -> str:
    return f"user_{uuid.uuid4().hex[:24]}"


def signup_delivery(
    *, user_id: str, first_name: str | None = "Ada", email: str | None = None,
    secret: str = TEST_AUTH_SECRET, delivery_id: str | None = None, timestamp: datetime | None = None,
    event_type: str = "user.created", updated_at_ms: int | None = None,
) -> tuple[bytes, dict[str, str]]:
    payload = clerk_user_created(
        user_id=user_id, email=email or f"{user_id}@example.com", first_name=first_name,
        event_type=event_type, updated_at_ms=updated_at_ms,
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
        lambda: read_claims(fleet, user_id), until=lambda claims: bool(claims.get("plan")),
        timeout=timeout, what=f"complete claims for {user_id}",
    )


def service_db(platform: Platform, service: str) -> str:
    return database_url(platform.database_url, service.replace("-", "_"))


async def count(platform: Platform, service: str, sql: str, *args: Any) -> int:
    return int(await fetchval(service_db(platform, service), sql, *args))
