"""Quotas bind (issue 15, API.md billing table): `/release` gives back only the reservation made
by `/reserve` with the same key, once; a key with no reservation is 404 `reservation_not_found`
and changes nothing; `sessions/consume` takes 1 to 10 sessions a call."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from devstack.pytest_plugin import TEST_SERVICE_KEY
from devstack.services import Fleet
from devstack.testing import sign_up

SERVICE = {"X-Service-Key": TEST_SERVICE_KEY}


class Scenarios:
    """The scenarios gauge of one org, through billing's API with the service key."""

    def __init__(self, client: httpx.AsyncClient, org_id: str) -> None:
        self.client, self.org_id = client, org_id

    async def reserve(self, key: str) -> httpx.Response:
        return await self._post("reserve", key)

    async def release(self, key: str) -> httpx.Response:
        return await self._post("release", key)

    async def used(self) -> int:
        response = await self.client.get(f"/v1/orgs/{self.org_id}/entitlements", headers=SERVICE)
        used: int = response.json()["usage"]["scenarios"]
        return used

    async def _post(self, action: str, key: str) -> httpx.Response:
        path = f"/v1/orgs/{self.org_id}/meters/scenarios/{action}"
        return await self.client.post(path, json={"idempotency_key": key}, headers=SERVICE)


def answer(response: httpx.Response) -> tuple[int, Any]:
    body = response.json()
    return response.status_code, body["error"]["code"] if "error" in body else body


async def new_org(fleet: Fleet) -> str:
    _, claims = await sign_up(fleet)  # individual_free: 3 scenarios
    org_id: str = claims["org_id"]
    return org_id


async def test_a_reserve_release_loop_never_passes_the_scenario_limit(services: Fleet) -> None:
    async with httpx.AsyncClient(base_url=services["billing"].url, timeout=10) as client:
        gauge = Scenarios(client, await new_org(services))
        held = [answer(await gauge.reserve(f"held-{i}")) for i in range(3)]
        loop = []
        for i in range(5):
            loop.append(answer(await gauge.release(f"fresh-{i}")))
            loop.append(answer(await gauge.reserve(f"more-{i}")))
        # A refused reservation holds nothing either.
        refused_back = answer(await gauge.release("more-0"))
        used = await gauge.used()

    assert held[-1] == (200, {"used": 3, "limit": 3, "remaining": 0})
    assert loop == [(404, "reservation_not_found"), (402, "quota_exceeded")] * 5
    assert refused_back == (404, "reservation_not_found")
    assert used == 3


async def test_releasing_a_key_that_reserved_nothing_is_404_and_the_count_stays(services: Fleet) -> None:
    async with httpx.AsyncClient(base_url=services["billing"].url, timeout=10) as client:
        gauge = Scenarios(client, await new_org(services))
        await gauge.reserve("lesson-1")
        fresh = await gauge.release(uuid.uuid4().hex)
        used = await gauge.used()
        # The refusal stored nothing: the key can still reserve, and then release.
        later = [answer(await gauge.reserve("late")), answer(await gauge.release("late"))]

    assert answer(fresh) == (404, "reservation_not_found")
    assert used == 1
    assert later == [
        (200, {"used": 2, "limit": 3, "remaining": 1}),
        (200, {"used": 1, "limit": 3, "remaining": 2}),
    ]


async def test_a_release_twice_answers_the_same_and_lowers_the_count_once(services: Fleet) -> None:
    async with httpx.AsyncClient(base_url=services["billing"].url, timeout=10) as client:
        gauge = Scenarios(client, await new_org(services))
        await gauge.reserve("a")
        await gauge.reserve("b")
        first, second = await gauge.release("a"), await gauge.release("a")
        used = await gauge.used()
        # The released key's reservation is spent: reserving with it again replays its first answer.
        replay = await gauge.reserve("a")
        after_replay = await gauge.used()

    assert answer(first) == (200, {"used": 1, "limit": 3, "remaining": 2})
    assert second.json() == first.json()
    assert used == 1
    assert replay.status_code == 200 and after_replay == 1


async def test_consume_takes_one_to_ten_sessions_a_call(services: Fleet) -> None:
    org_id = await new_org(services)
    path = f"/v1/orgs/{org_id}/meters/sessions/consume"
    async with httpx.AsyncClient(base_url=services["billing"].url, timeout=10) as client:
        eleven = await client.post(path, json={"idempotency_key": "k11", "quantity": 11}, headers=SERVICE)
        thousand = await client.post(
            path, json={"idempotency_key": "k1000", "quantity": 1000}, headers=SERVICE
        )
        ten = await client.post(path, json={"idempotency_key": "k10", "quantity": 10}, headers=SERVICE)

    assert answer(eleven) == (422, "validation_error")
    assert answer(thousand) == (422, "validation_error")
    assert answer(ten)[0] == 200 and ten.json()["used"] == 10
