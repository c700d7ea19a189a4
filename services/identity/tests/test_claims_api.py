"""GET /v1/users/{user_id}/claims: service key required, clear errors."""

from __future__ import annotations

import httpx

from devstack.pytest_plugin import TEST_SERVICE_KEY
from devstack.services import Fleet
from devstack.testing import new_user_id


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
