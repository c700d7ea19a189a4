"""Malformed `Skool-Signature` headers on the live service: 401 `invalid_signature`, never a
500, nothing stored, counted as `malformed_signature` (issue 15: `t=²` and a 5,000-digit `t=`
were 500s). Any value: test_signature.py."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from devstack.platform import Platform
from devstack.pytest_plugin import TEST_OPERATOR_KEY
from devstack.services import Fleet
from devstack.testing import count
from skool_ingest.signature import HEADER

DIGEST = b"0" * 64
# Bytes as a client sends them; the server reads a header's bytes as latin-1 (so \xb2 is "²").
MALFORMED = [
    b"t=\xb2,v1=" + DIGEST,
    b"t=\xc2\xb2,v1=" + DIGEST,
    b"t=" + b"9" * 5000 + b",v1=" + DIGEST,
    b"t=1800000000,v1=" + b"\xe9" * 64,
    b"\xff\xfe",
]


async def malformed_count(client: httpx.AsyncClient) -> int:
    response = await client.get("/v1/webhooks/skool/rejections", headers={"X-Service-Key": TEST_OPERATOR_KEY})
    return int(response.json()["rejections"].get("malformed_signature", 0))


@pytest.mark.parametrize("signature", MALFORMED, ids=[repr(value[:14]) for value in MALFORMED])
async def test_a_malformed_skool_signature_is_an_invalid_signature(
    services: Fleet, platform: Platform, signature: bytes
) -> None:
    email = f"member-{uuid.uuid4().hex[:10]}@example.com"
    body = {
        "event": "member.subscribed",
        "email": email,
        "community_id": "sales-dojo",
        "occurred_at": "2026-11-30T12:00:00Z",
    }
    async with httpx.AsyncClient(base_url=services["skool-ingest"].url, timeout=10) as client:
        before = await malformed_count(client)
        response = await client.post(
            "/v1/webhooks/skool", content=json.dumps(body).encode(), headers={HEADER.encode(): signature}
        )
        after = await malformed_count(client)

    assert (response.status_code, response.json()["error"]["code"]) == (401, "invalid_signature")
    assert after == before + 1
    stored = await count(
        platform, "skool-ingest", "SELECT count(*) FROM skool_deliveries WHERE email = $1", email
    )
    assert stored == 0
