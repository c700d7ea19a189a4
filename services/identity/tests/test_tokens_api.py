"""POST /v1/tokens and GET /.well-known/jwks.json, through the running identity."""

from __future__ import annotations

import httpx
import jwt

from devstack.pytest_plugin import TEST_TOKEN_MINT_KEY
from devstack.services import Fleet
from devstack.testing import (
    complete_claims,
    new_user_id,
    post_auth_webhook,
    request_token,
    sign_up,
    signup_delivery,
)


async def read_jwks(fleet: Fleet) -> httpx.Response:
    async with httpx.AsyncClient(base_url=fleet["identity"].url, timeout=10) as client:
        return await client.get("/.well-known/jwks.json")


async def test_a_token_for_a_signed_up_user_carries_their_claims(services: Fleet) -> None:
    user_id, claims = await sign_up(services)

    response = await request_token(services, user_id)

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["token_type"] == "Bearer"
    assert answer["expires_in"] == 900
    assert answer["claims"] == {key: value for key, value in claims.items() if key != "status"}
    header = jwt.get_unverified_header(answer["access_token"])
    assert header["alg"] == "ES256"
    published = {key["kid"]: key for key in (await read_jwks(services)).json()["keys"]}
    assert header["kid"] in published
    payload = jwt.decode(
        answer["access_token"],
        key=jwt.PyJWK(published[header["kid"]]),
        algorithms=["ES256"],
        audience="backbone",
        issuer="backbone-identity",
    )
    assert payload["sub"] == user_id
    assert payload["org_id"] == claims["org_id"]
    assert payload["org_role"] == "trainee"
    assert payload["is_personal_org"] is True
    assert payload["plan"] == "individual_free"
    assert payload["exp"] - payload["iat"] == 900


async def test_the_jwks_serves_public_keys_only(services: Fleet) -> None:
    response = await read_jwks(services)

    assert response.status_code == 200
    assert "max-age" in response.headers["cache-control"]
    keys = response.json()["keys"]
    assert keys
    for key in keys:
        assert key["kty"] == "EC"
        assert key["crv"] == "P-256"
        assert key["alg"] == "ES256"
        assert key["use"] == "sig"
        assert key["kid"]
        assert "d" not in key  # the private scalar never leaves identity


async def test_the_same_org_can_be_asked_for_explicitly(services: Fleet) -> None:
    user_id, claims = await sign_up(services)

    response = await request_token(services, user_id, org_id=claims["org_id"])

    assert response.status_code == 200, response.text
    assert response.json()["claims"]["org_id"] == claims["org_id"]


async def test_an_unknown_user_gets_no_token(services: Fleet) -> None:
    response = await request_token(services, new_user_id())

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "user_not_found"


async def test_an_org_the_user_is_not_in_is_refused(services: Fleet) -> None:
    user_id, claims = await sign_up(services)
    _, someone_else = await sign_up(services)

    response = await request_token(services, user_id, org_id=someone_else["org_id"])

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_a_member"
    # Nothing changed: the user's token still speaks for their own workspace.
    again = await request_token(services, user_id)
    assert again.json()["claims"]["org_id"] == claims["org_id"]


async def test_a_user_without_a_workspace_yet_gets_409_then_a_token(services: Fleet) -> None:
    user_id = new_user_id()
    with services["workspace"].down():
        body, headers = signup_delivery(user_id=user_id)
        assert (await post_auth_webhook(services, body, headers)).status_code == 200

        response = await request_token(services, user_id)

        assert response.status_code == 409
        assert response.json()["error"]["code"] == "not_provisioned"
    await complete_claims(services, user_id)
    assert (await request_token(services, user_id)).status_code == 200


async def test_tokens_need_the_service_key(services: Fleet) -> None:
    user_id = new_user_id()
    wrong = await request_token(services, user_id, service_key="not-the-key")
    async with httpx.AsyncClient(base_url=services["identity"].url, timeout=10) as client:
        missing = await client.post("/v1/tokens", json={"user_id": user_id})
    for response in (wrong, missing):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_service_key"


async def test_a_bad_body_is_422(services: Fleet) -> None:
    async with httpx.AsyncClient(base_url=services["identity"].url, timeout=10) as client:
        response = await client.post(
            "/v1/tokens", json={"org_id": "x"}, headers={"X-Service-Key": TEST_TOKEN_MINT_KEY}
        )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
