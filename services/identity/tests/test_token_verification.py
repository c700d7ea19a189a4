"""shared.auth against the live identity JWKS: a tiny app using `CurrentPrincipal` and
`PrincipalOrService`, and tokens that must all be refused with 401 `invalid_token`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI

from devstack.platform import Platform
from devstack.pytest_plugin import TEST_SERVICE_KEY, TEST_SIGNING_KEY_PASSPHRASE
from devstack.services import Fleet
from devstack.testing import bearer, bearer_token, fetch, service_db, sign_up
from shared.auth import (
    BEARER_OR_SERVICE_ERRORS,
    CurrentPrincipal,
    JwksKeySource,
    PrincipalOrService,
    TokenVerifier,
    install_auth,
)
from shared.errors import error_responses, install_error_handlers

ISSUER, AUDIENCE = "backbone-identity", "backbone"


def tiny_app(fleet: Fleet, *, refetch_interval: float = 0.0) -> tuple[FastAPI, JwksKeySource]:
    keys = JwksKeySource(
        url=f"{fleet['identity'].url}/.well-known/jwks.json", refetch_interval=refetch_interval
    )
    app = FastAPI()
    install_error_handlers(app)
    install_auth(
        app,
        verifier=TokenVerifier(keys=keys, issuer=ISSUER, audience=AUDIENCE, leeway_seconds=5),
        service_key=TEST_SERVICE_KEY,
    )

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, Any]:
        return {
            "user_id": principal.user_id,
            "org_id": principal.org_id,
            "role": principal.org_role,
            "is_personal_org": principal.is_personal_org,
            "plan": principal.plan,
        }

    @app.get("/either")
    async def either(principal: PrincipalOrService) -> dict[str, Any]:
        return {"user_id": None if principal is None else principal.user_id}

    return app, keys


@pytest.fixture
async def client(services: Fleet) -> AsyncIterator[httpx.AsyncClient]:
    app, _ = tiny_app(services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tiny") as c:
        yield c


async def active_signing_key(platform: Platform) -> tuple[str, ec.EllipticCurvePrivateKey]:
    """identity's active key, decrypted with the test passphrase (to forge near-valid tokens)."""
    row = (
        await fetch(
            service_db(platform, "identity"),
            "SELECT kid, encrypted_private_key FROM signing_keys WHERE retired_at IS NULL",
        )
    )[0]
    key = serialization.load_pem_private_key(
        row["encrypted_private_key"], TEST_SIGNING_KEY_PASSPHRASE.encode()
    )
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return row["kid"], key


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "sub": "user_x",
        "org_id": str(uuid.uuid4()),
        "org_role": "admin",
        "is_personal_org": False,
        "plan": "starter",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
    }
    return {**base, **overrides}


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def assert_refused(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await client.get("/me", headers=headers)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "invalid_token"


async def test_a_valid_token_gives_the_principal(services: Fleet, client: httpx.AsyncClient) -> None:
    user_id, user_claims = await sign_up(services)
    token = await bearer_token(services, user_id)

    response = await client.get("/me", headers=bearer(token))

    assert response.status_code == 200, response.text
    assert response.json() == {
        "user_id": user_id,
        "org_id": user_claims["org_id"],
        "role": "trainee",
        "is_personal_org": True,
        "plan": "individual_free",
    }


async def test_a_forged_but_well_signed_token_is_accepted_only_when_every_check_holds(
    services: Fleet, platform: Platform, client: httpx.AsyncClient
) -> None:
    """The control for the refusals below: identity's own key, right claims → 200."""
    kid, key = await active_signing_key(platform)
    token = jwt.encode(claims(), key, algorithm="ES256", headers={"kid": kid})
    assert (await client.get("/me", headers=bearer(token))).status_code == 200


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": int(time.time()) - 60, "iat": int(time.time()) - 960},  # expired (beyond leeway)
        {"aud": "someone-else"},
        {"iss": "https://evil.example"},
    ],
    ids=["expired", "wrong-audience", "wrong-issuer"],
)
async def test_identity_signed_tokens_with_bad_claims_are_refused(
    services: Fleet, platform: Platform, client: httpx.AsyncClient, overrides: dict[str, Any]
) -> None:
    kid, key = await active_signing_key(platform)
    token = jwt.encode(claims(**overrides), key, algorithm="ES256", headers={"kid": kid})
    await assert_refused(client, bearer(token))


async def test_a_token_missing_a_required_claim_is_refused(
    services: Fleet, platform: Platform, client: httpx.AsyncClient
) -> None:
    kid, key = await active_signing_key(platform)
    payload = claims()
    del payload["exp"]
    await assert_refused(client, bearer(jwt.encode(payload, key, algorithm="ES256", headers={"kid": kid})))


async def test_a_tampered_token_is_refused(services: Fleet, client: httpx.AsyncClient) -> None:
    user_id, _ = await sign_up(services)
    header, _, signature = (await bearer_token(services, user_id)).split(".")
    tampered = ".".join([header, b64(claims(sub=user_id, org_role="admin")), signature])
    await assert_refused(client, bearer(tampered))


async def test_a_token_signed_by_an_unknown_key_is_refused(
    services: Fleet, client: httpx.AsyncClient
) -> None:
    stranger = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(claims(), stranger, algorithm="ES256", headers={"kid": f"es256-{uuid.uuid4().hex}"})
    await assert_refused(client, bearer(token))


async def test_a_token_without_kid_is_refused(
    services: Fleet, platform: Platform, client: httpx.AsyncClient
) -> None:
    _, key = await active_signing_key(platform)
    await assert_refused(client, bearer(jwt.encode(claims(), key, algorithm="ES256")))


async def test_alg_none_and_hmac_confusion_are_refused(
    services: Fleet, platform: Platform, client: httpx.AsyncClient
) -> None:
    kid, _ = await active_signing_key(platform)
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{b64(claims())}."
    await assert_refused(client, bearer(unsigned))
    # HS256 keyed with the published public key: the classic algorithm-confusion forgery.
    async with httpx.AsyncClient(base_url=services["identity"].url) as identity:
        jwks = (await identity.get("/.well-known/jwks.json")).json()
    public_pem = jwt.PyJWK(jwks["keys"][0]).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64({"alg": "HS256", "typ": "JWT", "kid": jwks["keys"][0]["kid"]})
    body = b64(claims())
    mac = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    await assert_refused(client, bearer(forged))


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwdw=="},
        {"Authorization": "Bearer not.a.jwt"},
    ],
    ids=["missing", "empty", "basic", "garbage"],
)
async def test_missing_or_malformed_authorization_is_refused(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    await assert_refused(client, headers)


async def test_principal_or_service(services: Fleet, client: httpx.AsyncClient) -> None:
    user_id, _ = await sign_up(services)
    token = await bearer_token(services, user_id)

    as_service = await client.get("/either", headers={"X-Service-Key": TEST_SERVICE_KEY})
    as_user = await client.get("/either", headers=bearer(token))
    wrong_key = await client.get("/either", headers={"X-Service-Key": "wrong", **bearer(token)})
    nothing = await client.get("/either")

    assert as_service.json() == {"user_id": None}
    assert as_user.json() == {"user_id": user_id}
    assert wrong_key.status_code == 401
    assert wrong_key.json()["error"]["code"] == "invalid_service_key"
    assert nothing.status_code == 401
    assert nothing.json()["error"]["code"] == "invalid_token"


async def test_unknown_kids_refetch_at_most_once_per_interval(services: Fleet) -> None:
    app, keys = tiny_app(services, refetch_interval=3600)
    stranger = ec.generate_private_key(ec.SECP256R1())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tiny") as client:
        for _ in range(5):
            token = jwt.encode(claims(), stranger, algorithm="ES256", headers={"kid": uuid.uuid4().hex})
            await assert_refused(client, bearer(token))
    assert keys.fetches == 1


def test_routes_can_document_their_401() -> None:
    responses = error_responses(*BEARER_OR_SERVICE_ERRORS)
    assert "invalid_token" in responses[401]["description"]
    assert "invalid_service_key" in responses[401]["description"]
