"""GET /v1/users/{user_id}/claims: service key required, clear errors."""

from __future__ import annotations

import httpx

from devstack.pytest_plugin import TEST_SERVICE_KEY
from devstack.services import Fleet
from devstack.testing import (
    delete_user,
    new_user_id,
    post_auth_webhook,
    read_claims,
    request_token,
    sign_up,
    signup_delivery,
)


async def test_claims_need_the_service_key(services: Fleet) -> None:
    async with httpx.AsyncClient(base_url=services["identity"].url) as client:
        missing = await client.get(f"/v1/users/{new_user_id()}/claims")
        wrong = await client.get(
            f"/v1/users/{new_user_id()}/claims", headers={"X-Service-Key": "not-the-key"}
        )
    for response in (missing, wrong):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_service_key"


async def test_claims_of_an_unknown_user_are_404(services: Fleet) -> None:
    async with httpx.AsyncClient(base_url=services["identity"].url) as client:
        response = await client.get(
            f"/v1/users/{new_user_id()}/claims", headers={"X-Service-Key": TEST_SERVICE_KEY}
        )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "user_not_found"


async def test_unknown_routes_answer_with_the_error_model(services: Fleet) -> None:
    async with httpx.AsyncClient(base_url=services["identity"].url) as client:
        response = await client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not Found"}}


async def test_the_one_call_read_answers_what_a_token_carries_and_404_once_deleted(services: Fleet) -> None:
    """The endpoint reads through `claims_of` (one call); token minting through the session path.
    Both must tell the same claims, and a deleted user has none."""
    user_id, claims = await sign_up(services)
    minted = await request_token(services, user_id)
    assert minted.status_code == 200, minted.text
    assert {key: value for key, value in claims.items() if key != "status"} == minted.json()["claims"]

    fresh = new_user_id()  # signed up, no membership yet: every org field null
    body, headers = signup_delivery(user_id=fresh)
    with services["workspace"].down():
        assert (await post_auth_webhook(services, body, headers)).status_code == 200
        assert await read_claims(services, fresh) == {
            "status": 200,
            "user_id": fresh,
            "org_id": None,
            "org_role": None,
            "is_personal_org": None,
            "plan": None,
        }

    await delete_user(services, user_id)
    gone = await read_claims(services, user_id)
    assert (gone["status"], gone["error"]["code"]) == (404, "user_not_found")
