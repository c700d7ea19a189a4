"""Bounds on keys and tokens (issue 15): a key identity stops publishing stops verifying within
`PLATFORM_JWKS_MAX_AGE_SECONDS`, an unreachable identity extends that by a bounded grace only, and
no verifier accepts a token living longer than `PLATFORM_TOKEN_MAX_LIFETIME_SECONDS`."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from pydantic import ValidationError

from devstack.platform import Platform
from devstack.services import Fleet
from devstack.testing import call_service, eventually, read_claims, sign_up
from identity.settings import IdentitySettings
from shared.auth import JwksKeySource, TokenVerifier
from shared.auth.verifier import verifier_from_settings
from shared.errors import InvalidToken, ServiceUnavailable
from shared.settings import ServiceSettings

from .test_token_verification import AUDIENCE, ISSUER, active_signing_key, claims


class JwksServer:
    """A JWKS served over real HTTP from a document the test edits (identity's role)."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.up = True
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = (200, json.dumps(owner.document).encode()) if owner.up else (500, b"down")
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"

    def publish(self, kid: str, key: ec.EllipticCurvePrivateKey) -> None:
        jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
        self.document["keys"].append({**jwk, "kid": kid, "alg": "ES256", "use": "sig"})

    def withdraw(self, kid: str) -> None:
        self.document["keys"] = [jwk for jwk in self.document["keys"] if jwk["kid"] != kid]


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    server = JwksServer()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def signed(kid: str, key: ec.EllipticCurvePrivateKey, **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), key, algorithm="ES256", headers={"kid": kid})


async def outcome(verifier: TokenVerifier, token: str) -> str:
    try:
        await verifier.verify(token)
    except InvalidToken:
        return "invalid_token"
    except ServiceUnavailable:
        return "service_unavailable"
    return "verified"


async def test_a_key_removed_from_the_jwks_stops_verifying_within_the_max_age(jwks: JwksServer) -> None:
    max_age = 1.0
    kid, key = uuid.uuid4().hex, ec.generate_private_key(ec.SECP256R1())
    jwks.publish(kid, key)
    # As a service builds it from its settings; a refetch interval far longer than the test: only
    # the max age can make it refetch.
    settings = ServiceSettings(
        PLATFORM_JWKS_URL=jwks.url,
        PLATFORM_JWKS_REFETCH_INTERVAL_SECONDS=3600,
        PLATFORM_JWKS_MAX_AGE_SECONDS=max_age,
    )
    verifier = verifier_from_settings(settings)
    keys = verifier.keys
    assert isinstance(keys, JwksKeySource)
    token = signed(kid, key)
    assert await outcome(verifier, token) == "verified"

    jwks.withdraw(kid)
    withdrawn_at = time.monotonic()
    await eventually(
        lambda: outcome(verifier, token),
        until=lambda result: result == "invalid_token",
        timeout=max_age + 5,
        what="the withdrawn key refused",
    )
    assert time.monotonic() - withdrawn_at <= max_age + 0.5
    assert keys.fetches == 2


async def test_an_unreachable_issuer_extends_the_cache_by_the_grace_only(jwks: JwksServer) -> None:
    """identity down: cached keys verify until max age + grace, then every token is 503."""
    now = [1000.0]
    kid, key = uuid.uuid4().hex, ec.generate_private_key(ec.SECP256R1())
    jwks.publish(kid, key)
    keys = JwksKeySource(url=jwks.url, refetch_interval=1, max_age=10, stale_grace=20, clock=lambda: now[0])
    verifier = TokenVerifier(keys=keys, issuer=ISSUER, audience=AUDIENCE)
    token = signed(kid, key)
    assert await outcome(verifier, token) == "verified"

    jwks.up = False
    now[0] += 11  # past the max age: the refetch fails, the grace holds
    assert await outcome(verifier, token) == "verified"
    now[0] += 10
    assert await outcome(verifier, token) == "verified"
    now[0] += 10  # 31 s since the last good fetch > 10 + 20
    assert await outcome(verifier, token) == "service_unavailable"

    jwks.up = True  # back: the next verification (past the refetch interval) refetches
    now[0] += 1
    assert await outcome(verifier, token) == "verified"


async def test_a_token_living_a_day_is_refused_by_a_service(services: Fleet, platform: Platform) -> None:
    """Signed by identity's own key with valid claims, but `exp - iat` = 1 day > 3600 s."""
    user_id, _ = await sign_up(services)
    user_claims = await read_claims(services, user_id)
    kid, key = await active_signing_key(platform)
    now = int(time.time())
    person = {
        "sub": user_id,
        "org_id": user_claims["org_id"],
        "org_role": user_claims["org_role"],
        "is_personal_org": True,
        "plan": user_claims["plan"],
    }
    within = signed(kid, key, **person, iat=now, exp=now + 900)
    day_long = signed(kid, key, **person, iat=now, exp=now + 24 * 3600)

    accepted = await call_service(services, "workspace", "GET", "/v1/me/context", token=within)
    assert accepted.status_code == 200, accepted.text
    refused = await call_service(services, "workspace", "GET", "/v1/me/context", token=day_long)

    assert refused.status_code == 401, refused.text
    assert refused.json()["error"]["code"] == "invalid_token"


def test_identity_refuses_to_start_with_a_ttl_above_the_verifiers_maximum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PLATFORM_TOKEN_MAX_LIFETIME_SECONDS", "600")
    with pytest.raises(ValidationError, match="IDENTITY_TOKEN_TTL_SECONDS"):
        IdentitySettings(token_ttl_seconds=900)
    assert IdentitySettings(token_ttl_seconds=600).token_ttl_seconds == 600
