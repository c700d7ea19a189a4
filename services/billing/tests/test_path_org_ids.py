"""A path org id that is not a UUID is 404 `org_not_found`: never a wider tenant scope, never 500.

Issue 15: fuzzing with a fresh seed sent `POST /v1/orgs/{org_id}/meters/scenarios/reserve` with a
generated org id and got 500 ("new row violates row-level security policy for table
meter_uses"): billing took the path id as text, and a comma in it named several orgs in the
transaction's tenant setting.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from devstack.pytest_plugin import TEST_SERVICE_KEY
from devstack.services import Fleet
from devstack.testing import bearer, bearer_token, sign_up

SERVICE = {"X-Service-Key": TEST_SERVICE_KEY}


def malformed_ids(a: str, b: str) -> list[str]:
    """Org ids that are not one org's id; the first two name two real orgs at once."""
    return [f"{a},{b}", f"{a}%2C{b}", "not-an-org", "%20", "*", f"{a}x", a.replace("-", "")]


async def usage(client: httpx.AsyncClient, org_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/orgs/{org_id}/entitlements", headers=SERVICE)
    assert response.status_code == 200, response.text
    usage: dict[str, Any] = response.json()["usage"]
    return usage


async def calls(client: httpx.AsyncClient, org_id: str, headers: dict[str, str]) -> list[httpx.Response]:
    """Every billing route with an org id in its path, once."""
    base = f"/v1/orgs/{org_id}"
    key = {"idempotency_key": uuid.uuid4().hex}
    return [
        await client.post(f"{base}/meters/scenarios/reserve", json=key, headers=headers),
        await client.post(f"{base}/meters/scenarios/release", json=key, headers=headers),
        await client.post(f"{base}/meters/sessions/consume", json=key, headers=headers),
        await client.get(f"{base}/entitlements", headers=headers),
        await client.get(f"{base}/subscription", headers=headers),
        await client.post(
            f"{base}/checkout", json={"plan": "individual_pro", "interval": "month"}, headers=headers
        ),
        await client.post(f"{base}/portal", headers=headers),
    ]


@pytest.mark.parametrize("caller", ["service key", "bearer"])
async def test_a_malformed_org_id_is_404_on_every_route_and_changes_nothing(
    services: Fleet, caller: str
) -> None:
    user_a, claims_a = await sign_up(services)
    _, claims_b = await sign_up(services)
    a, b = claims_a["org_id"], claims_b["org_id"]
    headers = SERVICE if caller == "service key" else bearer(await bearer_token(services, user_a))
    async with httpx.AsyncClient(base_url=services["billing"].url, timeout=10) as client:
        before = [await usage(client, a), await usage(client, b)]
        answers = [
            (org_id, response)
            for org_id in malformed_ids(a, b)
            for response in await calls(client, org_id, headers)
        ]
        after = [await usage(client, a), await usage(client, b)]

    wrong = [
        (org_id, response.request.method, response.request.url.path, response.status_code, response.text)
        for org_id, response in answers
        if (response.status_code, response.json()["error"]["code"])
        not in {(404, "org_not_found"), (401, "invalid_token"), (401, "invalid_service_key")}
    ]
    assert wrong == []
    assert after == before == [{"seats": 1, "sessions": 0, "scenarios": 0}] * 2


async def test_two_org_ids_in_one_path_never_reserve_for_either(services: Fleet) -> None:
    _, claims_a = await sign_up(services)
    _, claims_b = await sign_up(services)
    a, b = claims_a["org_id"], claims_b["org_id"]
    async with httpx.AsyncClient(base_url=services["billing"].url, timeout=10) as client:
        reserve = await client.post(
            f"/v1/orgs/{a},{b}/meters/scenarios/reserve", json={"idempotency_key": "k"}, headers=SERVICE
        )
        consume = await client.post(
            f"/v1/orgs/{a},{b}/meters/sessions/consume",
            json={"idempotency_key": "k", "quantity": 1},
            headers=SERVICE,
        )
        counted = [await usage(client, a), await usage(client, b)]

    assert (reserve.status_code, reserve.json()["error"]["code"]) == (404, "org_not_found")
    assert (consume.status_code, consume.json()["error"]["code"]) == (404, "org_not_found")
    assert counted == [{"seats": 1, "sessions": 0, "scenarios": 0}] * 2
