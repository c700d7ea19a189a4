"""Malformed `Stripe-Signature` headers on the live service: 400 `invalid_signature` (API.md's
billing table), never a 500, nothing stored (issue 15: a non-ASCII `v1=` was a 500). Any value:
test_signature_properties.py."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from devstack.platform import Platform
from devstack.services import Fleet
from devstack.testing import count


def malformed(now: int) -> list[bytes]:
    return [
        f"t={now},v1=".encode() + "é".encode() * 32,  # non-ASCII: compare_digest raised TypeError
        f"t={now},v1=".encode() + b"\xe9" * 64,  # the same in latin-1 bytes
        b"t=\xb2,v1=" + b"0" * 64,
        b"t=" + b"9" * 5000 + b",v1=" + b"0" * 64,
        b"v1",
        b"\xff",
    ]


@pytest.mark.parametrize("index", range(len(malformed(0))))
async def test_a_malformed_stripe_signature_is_an_invalid_signature(
    services: Fleet, platform: Platform, index: int
) -> None:
    event_id = f"evt_{uuid.uuid4().hex}"
    event = {"id": event_id, "type": "invoice.paid", "created": int(time.time()), "data": {"object": {}}}
    signature = malformed(int(time.time()))[index]

    async with httpx.AsyncClient(base_url=services["billing"].url, timeout=10) as client:
        response = await client.post(
            "/v1/webhooks/stripe",
            content=json.dumps(event).encode(),
            headers={b"Stripe-Signature": signature, b"Content-Type": b"application/json"},
        )

    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_signature")
    stored = await count(
        platform, "billing", "SELECT count(*) FROM stripe_events WHERE event_id = $1", event_id
    )
    assert stored == 0
