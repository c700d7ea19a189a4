"""The HTTP client's contract handling: paths, keys, typed errors, retries honouring Retry-After.

The answers come from an httpx transport that plays the platform's documented answers (API.md);
the client against the real services is exercised by the example app's end-to-end tests.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import pytest

from backbone_client.client import PlatformClient, PlatformEndpoints
from backbone_client.errors import Gone, NotFound, PlatformError, QuotaExceeded, Unavailable

ENDPOINTS = PlatformEndpoints(identity="http://id", workspace="http://ws", billing="http://bill")
USE = {"used": 3, "limit": 10, "remaining": 7, "resets_at": "2027-01-01T00:00:00Z"}


def client(answer: Callable[[httpx.Request], httpx.Response], **options: float) -> PlatformClient:
    return PlatformClient(
        ENDPOINTS,
        service_key="svc",
        token_mint_key="mint",
        transport=httpx.MockTransport(answer),
        initial_backoff=0.001,
        **options,  # type: ignore[arg-type]
    )


def error(status: int, code: str, **extra: object) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": code, **extra}})


async def test_consume_posts_the_documented_body_with_the_service_key() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=USE)

    async with client(answer) as platform:
        use = await platform.consume_sessions("org/1", idempotency_key="session-1")
    [request] = seen
    assert request.url.raw_path == b"/v1/orgs/org%2F1/meters/sessions/consume"
    assert request.headers["X-Service-Key"] == "svc" and "Authorization" not in request.headers
    assert json.loads(request.content) == {"quantity": 1, "idempotency_key": "session-1"}
    assert (use.used, use.remaining) == (3, 7)


async def test_only_token_minting_sends_the_mint_key() -> None:
    keys: dict[str, str] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        keys[request.url.path] = request.headers["X-Service-Key"]
        if request.url.path == "/v1/tokens":
            claims = {
                "user_id": "u",
                "org_id": "o",
                "org_role": "admin",
                "is_personal_org": True,
                "plan": "p",
            }
            return httpx.Response(
                200, json={"access_token": "t", "token_type": "Bearer", "expires_in": 900, "claims": claims}
            )
        return httpx.Response(200, json={"user_id": "u", "org_id": None, "org_role": None, "plan": None})

    async with client(answer) as platform:
        minted = await platform.mint_token("u")
        claims = await platform.claims("u")
    assert keys == {"/v1/tokens": "mint", "/v1/users/u/claims": "svc"}
    assert (minted.claims.plan, claims.org_id) == ("p", None)


async def test_a_402_is_quota_exceeded_with_the_upgrade_hint() -> None:
    answer = error(402, "quota_exceeded", limit=10, used=10, upgrade_to="individual_pro")
    async with client(lambda _: answer) as platform:
        with pytest.raises(QuotaExceeded) as raised:
            await platform.consume_sessions("o", idempotency_key="k")
    assert (raised.value.upgrade_to, raised.value.limit, raised.value.used) == ("individual_pro", 10, 10)


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [(404, "reservation_not_found", NotFound), (410, "invitation_expired", Gone), (409, "x", PlatformError)],
)
async def test_errors_are_typed_by_status(status: int, code: str, kind: type[PlatformError]) -> None:
    async with client(lambda _: error(status, code)) as platform:
        with pytest.raises(kind) as raised:
            await platform.release_scenario("o", idempotency_key="k")
    assert (type(raised.value), raised.value.status, raised.value.code) == (kind, status, code)


async def test_503_and_429_are_retried_honouring_retry_after() -> None:
    answers = [
        httpx.Response(503, headers={"Retry-After": "0.2"}, json={"error": {"code": "unavailable"}}),
        httpx.Response(429, headers={"Retry-After": "0"}, json={"error": {"code": "rate_limited"}}),
        httpx.Response(200, json=USE),
    ]
    started = time.monotonic()
    async with client(lambda _: answers.pop(0)) as platform:
        use = await platform.consume_sessions("o", idempotency_key="k")
    assert use.used == 3 and answers == []
    assert time.monotonic() - started >= 0.2


async def test_retries_are_bounded_then_unavailable() -> None:
    calls: list[int] = []

    def answer(_: httpx.Request) -> httpx.Response:
        calls.append(1)
        return error(503, "unavailable")

    async with client(answer, max_attempts=3) as platform:
        with pytest.raises(Unavailable):
            await platform.entitlements("o")
    assert len(calls) == 3


async def test_a_4xx_other_than_429_is_not_retried() -> None:
    calls: list[int] = []

    def answer(_: httpx.Request) -> httpx.Response:
        calls.append(1)
        return error(401, "invalid_service_key")

    async with client(answer) as platform:
        with pytest.raises(PlatformError, match="invalid_service_key"):
            await platform.entitlements("o")
    assert len(calls) == 1
