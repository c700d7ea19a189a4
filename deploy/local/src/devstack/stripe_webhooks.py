"""Stripe webhooks as Stripe sends them: an event around an object, signed with Stripe's scheme.

Used by billing's end-to-end tests and by the broker-chaos run's upgrade traffic.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from devstack.pytest_plugin import TEST_ENV
from devstack.services import Fleet
from devstack.stripe_mock import sign_stripe_payload

WEBHOOK_SECRET = TEST_ENV["BILLING_STRIPE_WEBHOOK_SECRET"]


def stripe_event(event_type: str, obj: dict[str, Any], *, created: int | None = None) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": event_type,
        "created": created if created is not None else int(time.time()),
        "livemode": False,
        "api_version": "2026-10-28.endive",
        "data": {"object": obj},
    }


def subscription_object(
    *,
    org_id: str,
    plan: str,
    status: str = "active",
    subscription_id: str | None = None,
    customer: str = "cus_test",
    interval: str = "month",
    period_end: datetime | None = None,
    cancel_at_period_end: bool = False,
) -> dict[str, Any]:
    end = period_end or datetime.now(UTC) + timedelta(days=30)
    return {
        "id": subscription_id or f"sub_{uuid.uuid4().hex[:14]}",
        "object": "subscription",
        "customer": customer,
        "status": status,
        "cancel_at_period_end": cancel_at_period_end,
        "current_period_end": int(end.timestamp()),
        "metadata": {"org_id": org_id},
        "items": {
            "object": "list",
            "data": [{"price": {"id": f"price_{plan}_{interval}", "object": "price"}}],
        },
    }


async def post_stripe(
    fleet: Fleet, event: dict[str, Any], *, secret: str = WEBHOOK_SECRET, signature: str | None = None
) -> httpx.Response:
    body = json.dumps(event).encode()
    header = signature if signature is not None else sign_stripe_payload(body, secret=secret)
    async with httpx.AsyncClient(base_url=fleet["billing"].url, timeout=10) as client:
        return await client.post(
            "/v1/webhooks/stripe",
            content=body,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        )
