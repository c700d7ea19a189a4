"""Bearer-token verification against a JWKS: keys cached, refetched on an unknown kid at most once
per interval, bounded staleness, and the FastAPI dependency's answers."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from jwt.algorithms import ECAlgorithm

from backbone_client.bearer import BEARER_RESPONSES, BearerClaims, install_bearer_auth
from backbone_client.tokens import InvalidToken, JwksKeys, KeysUnavailable, TokenClaims, TokenVerifier


@dataclass
class Issuer:
    """identity in miniature: signing keys by kid, a JWKS document, a clock the test moves."""

    keys: dict[str, ec.EllipticCurvePrivateKey] = field(default_factory=dict)
    published: list[str] = field(default_factory=list)
    reachable: bool = True
    now: float = 1000.0

    def add_key(self, kid: str, *, publish: bool = True) -> None:
        self.keys[kid] = ec.generate_private_key(ec.SECP256R1())
        if publish:
            self.published.append(kid)

    def jwks(self, request: httpx.Request) -> httpx.Response:
        if not self.reachable:
            return httpx.Response(503)
        keys = []
        for kid in self.published:
            jwk = json.loads(ECAlgorithm.to_jwk(self.keys[kid].public_key()))
            keys.append({**jwk, "kid": kid, "alg": "ES256", "use": "sig"})
        return httpx.Response(200, json={"keys": keys})

    def token(self, kid: str, **claims: Any) -> str:
        issued = int(time.time())
        body = {
            "sub": "user_1",
            "org_id": "org-1",
            "org_role": "admin",
            "is_personal_org": True,
            "plan": "individual_free",
            "iss": "backbone-identity",
            "aud": "backbone",
            "iat": issued,
            "exp": issued + 900,
            **claims,
        }
        return jwt.encode(body, self.keys[kid], algorithm="ES256", headers={"kid": kid})

    def verifier(self) -> TokenVerifier:
        keys = JwksKeys(
            url="http://identity/.well-known/jwks.json",
            refetch_interval=10,
            max_age=300,
            stale_grace=60,
            clock=lambda: self.now,
            transport=httpx.MockTransport(self.jwks),
        )
        return TokenVerifier(keys=keys)


@pytest.fixture
def issuer() -> Issuer:
    found = Issuer()
    found.add_key("k1")
    return found


async def test_a_valid_token_yields_its_claims(issuer: Issuer) -> None:
    claims = await issuer.verifier().verify(issuer.token("k1"))
    assert claims == TokenClaims(
        user_id="user_1", org_id="org-1", org_role="admin", is_personal_org=True, plan="individual_free"
    )


@pytest.mark.parametrize(
    "claims",
    [{"aud": "someone-else"}, {"iss": "elsewhere"}, {"exp": 1000}, {"exp": int(time.time()) + 86400}],
)
async def test_wrong_audience_issuer_expired_or_overlong_tokens_are_refused(
    issuer: Issuer, claims: dict[str, Any]
) -> None:
    with pytest.raises(InvalidToken):
        await issuer.verifier().verify(issuer.token("k1", **claims))


async def test_garbage_and_symmetric_tokens_are_refused(issuer: Issuer) -> None:
    verifier = issuer.verifier()
    for token in [
        "",
        "abc",
        jwt.encode({"sub": "x"}, "secret" * 8, algorithm="HS256", headers={"kid": "k1"}),
    ]:
        with pytest.raises(InvalidToken):
            await verifier.verify(token)


async def test_an_unknown_kid_refetches_at_most_once_per_interval(issuer: Issuer) -> None:
    verifier = issuer.verifier()
    await verifier.verify(issuer.token("k1"))
    issuer.add_key("rotated")
    issuer.now += 10  # identity publishes a key a while before it signs with it
    await verifier.verify(issuer.token("rotated"))  # a new key: one refetch finds it
    issuer.add_key("forged", publish=False)
    for _ in range(5):
        with pytest.raises(InvalidToken, match="unknown key"):
            await verifier.verify(issuer.token("forged"))
    assert verifier.keys.fetches == 2  # the forged kid within the interval cost nothing
    issuer.now += 10
    with pytest.raises(InvalidToken):
        await verifier.verify(issuer.token("forged"))
    assert verifier.keys.fetches == 3


async def test_cached_keys_verify_through_a_short_outage_then_fail_closed(issuer: Issuer) -> None:
    verifier = issuer.verifier()
    await verifier.verify(issuer.token("k1"))
    issuer.reachable = False
    issuer.now += 330  # past max_age, within the grace
    assert (await verifier.verify(issuer.token("k1"))).user_id == "user_1"
    issuer.now += 60  # past max_age + grace
    with pytest.raises(KeysUnavailable):
        await verifier.verify(issuer.token("k1"))


async def test_the_fastapi_dependency_answers_401_in_the_platforms_shape(issuer: Issuer) -> None:
    app = FastAPI()
    install_bearer_auth(app, issuer.verifier())

    @app.get("/whoami", responses=BEARER_RESPONSES)
    async def whoami(claims: BearerClaims) -> dict[str, str | None]:
        return {"user_id": claims.user_id, "org_id": claims.org_id}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
        good = await http.get("/whoami", headers={"Authorization": f"Bearer {issuer.token('k1')}"})
        missing = await http.get("/whoami")
        bad = await http.get("/whoami", headers={"Authorization": "Bearer nope"})
        schema = (await http.get("/openapi.json")).json()
    assert good.json() == {"user_id": "user_1", "org_id": "org-1"}
    assert [missing.status_code, bad.status_code] == [401, 401]
    assert bad.json()["error"]["code"] == "invalid_token" and bad.headers["WWW-Authenticate"] == "Bearer"
    assert {"401", "503"} <= set(schema["paths"]["/whoami"]["get"]["responses"])
