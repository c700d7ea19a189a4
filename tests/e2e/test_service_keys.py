"""Three purpose-split service keys (API.md "Authentication"): each route accepts only its own.

`PLATFORM_SERVICE_KEY` (product backends: claims, entitlements, quotas), `PLATFORM_TOKEN_MINT_KEY`
(`POST /v1/tokens` only), `PLATFORM_OPERATOR_KEY` (`/v1/ops/*`, signing-key rotation, webhook
rejection counts). Wrong, missing, another purpose's or an undecodable key → 401
`invalid_service_key`, never 500.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from devstack.pytest_plugin import TEST_OPERATOR_KEY, TEST_SERVICE_KEY, TEST_TOKEN_MINT_KEY
from devstack.services import Fleet
from devstack.testing import complete_claims, new_user_id, post_auth_webhook, signup_delivery
from shared.http.deps import key_matches

KEYS = {"service": TEST_SERVICE_KEY, "token_mint": TEST_TOKEN_MINT_KEY, "operator": TEST_OPERATOR_KEY}
# Header values no key can be: non-ASCII (sent as latin-1 bytes), empty, control characters.
HOSTILE_KEYS: tuple[bytes, ...] = ("clé-ü".encode("latin-1"), b"\xff\xfe", b"", b"a\tb")


async def _provisioned(services: Fleet) -> tuple[str, str]:
    user_id = new_user_id()
    body, headers = signup_delivery(user_id=user_id)
    assert (await post_auth_webhook(services, body, headers)).status_code == 200
    claims = await complete_claims(services, user_id)
    return user_id, str(claims["org_id"])


def _routes(user_id: str, org_id: str) -> list[tuple[str, str, str, dict[str, object] | None, str]]:
    """(service, method, path, json body, the one purpose it accepts)."""
    return [
        ("identity", "GET", f"/v1/users/{user_id}/claims", None, "service"),
        ("identity", "POST", "/v1/tokens", {"user_id": user_id}, "token_mint"),
        ("billing", "GET", f"/v1/orgs/{org_id}/entitlements", None, "service"),
        ("billing", "GET", f"/v1/orgs/{org_id}/subscription", None, "service"),
        ("workspace", "GET", f"/v1/orgs/{org_id}", None, "service"),
        ("skool-ingest", "GET", "/v1/webhooks/skool/rejections", None, "operator"),
        *[(name, "GET", "/v1/ops/timeline?q=" + user_id, None, "operator") for name in _ALL],
    ]


_ALL = ("identity", "workspace", "billing", "invites", "skool-ingest")


async def test_each_route_accepts_only_its_own_key(services: Fleet) -> None:
    user_id, org_id = await _provisioned(services)
    for service, method, path, body, purpose in _routes(user_id, org_id):
        async with httpx.AsyncClient(base_url=services[service].url, timeout=10) as client:
            for name, key in KEYS.items():
                response = await client.request(method, path, json=body, headers={"X-Service-Key": key})
                where = f"{service} {method} {path} with the {name} key"
                if name == purpose:
                    assert response.status_code == 200, (where, response.text)
                else:
                    assert response.status_code == 401, (where, response.text)
                    assert response.json()["error"]["code"] == "invalid_service_key", where


async def test_signing_key_rotation_refuses_every_key_but_the_operators(services: Fleet) -> None:
    # The operator's success is test_key_rotation's (a rotation here would disturb other tests).
    async with httpx.AsyncClient(base_url=services["identity"].url, timeout=10) as client:
        for key in (TEST_SERVICE_KEY, TEST_TOKEN_MINT_KEY, None):
            headers = {"X-Service-Key": key} if key is not None else {}
            response = await client.post("/v1/signing-keys/rotate", headers=headers)
            assert response.status_code == 401, key
            assert response.json()["error"]["code"] == "invalid_service_key"


@pytest.mark.parametrize("hostile", HOSTILE_KEYS, ids=["latin-1", "not-utf8", "empty", "control"])
async def test_a_key_header_no_key_can_be_is_401_never_500(services: Fleet, hostile: bytes) -> None:
    user_id, org_id = await _provisioned(services)
    for service, method, path, body, _ in _routes(user_id, org_id):
        async with httpx.AsyncClient(base_url=services[service].url, timeout=10) as client:
            response = await client.request(method, path, json=body, headers=[(b"X-Service-Key", hostile)])
        assert response.status_code == 401, (service, path, hostile, response.text)
        # An empty header is no key at all: a route that also takes a bearer token asks for one.
        expected = {"invalid_service_key", "invalid_token"} if not hostile else {"invalid_service_key"}
        assert response.json()["error"]["code"] in expected


def test_an_empty_configured_key_matches_nothing() -> None:
    assert not key_matches("", "")
    assert not key_matches(None, "")
    assert not key_matches("x", "")
    assert key_matches("k" * 40, "k" * 40)
    assert not key_matches("clé", "cle")
    assert not key_matches(str(uuid.uuid4()), str(uuid.uuid4()))
