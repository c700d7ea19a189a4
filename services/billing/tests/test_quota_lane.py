"""billing's quota lane (billing.quota_lane): which consumes it answers itself, and that its
answers are the full route's, byte for byte, under the same idempotency keys."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx

from billing.quota_lane import QuotaLane
from devstack.pytest_plugin import TEST_SERVICE_KEY
from devstack.services import Fleet
from devstack.testing import sign_up

ORG = str(uuid.uuid4())
PATH = f"/v1/orgs/{ORG}/meters/sessions/consume"


async def _never(_: Any, __: Any, ___: Any) -> None:
    raise AssertionError("not called")


async def _no_pool() -> None:
    raise AssertionError("not called")


LANE = QuotaLane(_never, service="billing", service_key="the-key", max_body_bytes=1024, pool=_no_pool)


def scope(
    path: str = PATH,
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    repeated: tuple[str, str] | None = None,
) -> dict[str, Any]:
    sent = {"x-service-key": "the-key", "content-type": "application/json", "content-length": "60"}
    sent = {**sent, **(headers or {})}
    listed = [(name.encode(), value.encode()) for name, value in sent.items() if value]
    if repeated is not None:
        listed.append((repeated[0].encode(), repeated[1].encode()))
    return {"type": "http", "method": method, "path": path, "headers": listed}


def test_the_lane_takes_only_a_trusted_backends_well_formed_consume() -> None:
    assert LANE.org_of(scope()) == ORG
    assert LANE.org_of(scope(PATH.replace(ORG, ORG.upper()))) == ORG  # the canonical text
    assert LANE.org_of(scope(headers={"content-type": "application/json; charset=utf-8"})) == ORG

    for declined in (
        scope(method="GET"),
        scope("/v1/orgs/not-an-org/meters/sessions/consume"),
        scope(f"/v1/orgs/{ORG}/meters/scenarios/reserve"),
        scope(headers={"x-service-key": ""}),  # a bearer token or no credential at all
        scope(headers={"x-service-key": "a-wrong-key"}),
        scope(headers={"content-type": "text/plain"}),
        scope(headers={"content-length": ""}),  # chunked
        scope(headers={"content-length": "1025"}),  # over its limit: the body limit answers
        scope(repeated=("x-service-key", "the-key")),  # a repeated header
        {"type": "websocket", "path": PATH, "headers": []},
    ):
        assert LANE.org_of(declined) is None, declined


async def _chunked(body: bytes) -> AsyncIterator[bytes]:
    yield body  # no Content-Length: the lane hands it to the full route


async def test_the_lane_and_the_full_route_give_the_same_answers_under_one_key(services: Fleet) -> None:
    """A consume answered by the lane, then the same key through FastAPI's route (a chunked
    body): the same 200; then a refusal the same way: the same 402 with `upgrade_to`."""
    _, claims = await sign_up(services)
    path = f"/v1/orgs/{claims['org_id']}/meters/sessions/consume"
    headers = {"X-Service-Key": TEST_SERVICE_KEY, "Content-Type": "application/json"}

    def body(key: str, quantity: int) -> bytes:
        return f'{{"quantity": {quantity}, "idempotency_key": "{key}"}}'.encode()

    async with httpx.AsyncClient(base_url=services["billing"].url, timeout=10) as client:
        lane = await client.post(path, content=body("first", 10), headers=headers)
        full = await client.post(path, content=_chunked(body("first", 10)), headers=headers)
        refused_lane = await client.post(path, content=body("second", 1), headers=headers)
        refused_full = await client.post(path, content=_chunked(body("second", 1)), headers=headers)
        invalid = await client.post(path, content=body("", 1), headers=headers)

    assert (lane.status_code, lane.json()["used"], lane.json()["remaining"]) == (200, 10, 0)
    assert (full.status_code, full.content) == (200, lane.content)
    assert full.headers["content-type"] == lane.headers["content-type"] == "application/json"
    assert refused_lane.status_code == 402
    assert refused_lane.json()["error"]["upgrade_to"] == "individual_pro"
    assert (refused_full.status_code, refused_full.content) == (402, refused_lane.content)
    assert (invalid.status_code, invalid.json()["error"]["code"]) == (422, "validation_error")
