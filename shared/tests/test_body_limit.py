"""shared.http.body_limit, in process: refused early by length, counted while streaming.

The same against the real services over real sockets: tests/e2e/test_body_limit.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI, Request
from pydantic import BaseModel

from shared.errors import install_error_handlers
from shared.http.body_limit import DRAIN_BYTES, BodyLimit

LIMIT, WEBHOOK_LIMIT = 1000, 100


class Named(BaseModel):
    name: str


def build_app(reads: list[int]) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(BodyLimit, default_limit=LIMIT, webhook_limit=WEBHOOK_LIMIT)

    @app.post("/v1/things")
    async def parsed(body: Named) -> dict[str, int]:
        return {"length": len(body.name)}

    @app.post("/v1/webhooks/raw")
    async def raw(request: Request) -> dict[str, int]:
        body = await request.body()
        reads.append(len(body))
        return {"length": len(body)}

    return app


async def chunks(count: int, size: int) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield b"x" * size


async def post(app: FastAPI, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        return await client.post(path, **kwargs)


def assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert response.headers["connection"] == "close"


async def test_bodies_within_the_limits_reach_the_route() -> None:
    reads: list[int] = []
    app = build_app(reads)

    assert (await post(app, "/v1/things", json={"name": "a" * 900})).json() == {"length": 900}
    assert (await post(app, "/v1/webhooks/raw", content=b"y" * WEBHOOK_LIMIT)).status_code == 200
    assert reads == [WEBHOOK_LIMIT]


async def test_a_declared_length_over_the_limit_is_refused_before_the_route_runs() -> None:
    reads: list[int] = []
    app = build_app(reads)

    assert_too_large(await post(app, "/v1/things", json={"name": "a" * LIMIT}))
    assert_too_large(await post(app, "/v1/webhooks/raw", content=b"y" * (WEBHOOK_LIMIT + 1)))
    assert reads == []


async def test_a_streamed_body_is_refused_once_it_passes_the_limit_whatever_the_route() -> None:
    reads: list[int] = []
    app = build_app(reads)

    # No Content-Length (chunked): counted as it streams in; the route's own answer (a parse
    # error for the JSON route, the raw route's exception) never reaches the client.
    assert_too_large(await post(app, "/v1/things", content=chunks(20, 100)))
    assert_too_large(await post(app, "/v1/webhooks/raw", content=chunks(20, 10)))
    assert reads == []
    assert (await post(app, "/v1/webhooks/raw", content=chunks(10, 10))).json() == {"length": 100}


async def test_a_length_of_thousands_of_digits_is_refused_not_a_crash() -> None:
    app = build_app([])
    read: list[int] = []
    piece = b"x" * (64 * 1024)

    async def receive() -> dict[str, Any]:  # a client that would send forever
        read.append(len(piece))
        return {"type": "http.request", "body": piece, "more_body": True}

    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/things",
        "headers": [(b"content-length", b"9" * 5000)],
        "query_string": b"",
    }
    await app(scope, receive, send)

    assert sent[0]["status"] == 413
    assert b"payload_too_large" in sent[1]["body"]  # the whole answer, before any draining
    assert sent[-1] == {"type": "http.response.body", "body": b""}
    # What the client still sends is read and dropped, never more than the drain's bound.
    assert sum(read) <= DRAIN_BYTES + len(piece)
