"""Malformed `svix-*` headers on the live service: 401 `invalid_signature`, never a 500, nothing
stored (issue 15: `v1` and `v1,abc` were 500s). Any value: test_signature_properties.py."""

from __future__ import annotations

import httpx
import pytest

from devstack.platform import Platform
from devstack.services import Fleet
from devstack.testing import count, new_user_id, signup_delivery

# Bytes as a client sends them; the server reads a header's bytes as latin-1.
MALFORMED: list[tuple[str, bytes]] = [
    ("svix-signature", b"v1"),
    ("svix-signature", b"v1,abc"),
    ("svix-signature", b"v1,\xc3\xa9\xc3\xa9"),
    ("svix-signature", b"\xff\xfe v1,=="),
    ("svix-timestamp", b"\xb2"),
    ("svix-timestamp", b"9" * 5000),
    ("svix-id", b"msg_\xe9"),
]


@pytest.mark.parametrize(("name", "value"), MALFORMED, ids=[f"{n}={v[:12]!r}" for n, v in MALFORMED])
async def test_a_malformed_svix_header_is_an_invalid_signature(
    services: Fleet, platform: Platform, name: str, value: bytes
) -> None:
    user_id = new_user_id()
    body, signed = signup_delivery(user_id=user_id)
    headers = {key.encode(): text.encode() for key, text in signed.items()} | {name.encode(): value}

    async with httpx.AsyncClient(base_url=services["identity"].url, timeout=10) as client:
        response = await client.post("/v1/webhooks/auth", content=body, headers=headers)

    assert (response.status_code, response.json()["error"]["code"]) == (401, "invalid_signature")
    assert await count(platform, "identity", "SELECT count(*) FROM users WHERE id = $1", user_id) == 0
