"""The quota consume's lane: `POST /v1/orgs/{org_id}/meters/sessions/consume` from a trusted
backend answered without FastAPI's request pipeline (issue 17, item 3).

Why: at 500 consumes/s the profile of billing's API process showed the route's own work (one
call of the SQL function `use_sessions`, billing.service.meters) at about a fifth of the
request's CPU, and FastAPI's pipeline around it (middleware stack, dependency solving, body
parsing, response validation and encoding) at the rest (docs/performance.md, "Quotas isolated
from bursts"). On two cores shared with a signup burst, that CPU is what a consume waits for.

What it answers itself: the common case only, a request that the full route would answer 200 or
402 — a well-formed org id, the right `X-Service-Key`, a JSON body of at most `MAX_BODY_BYTES`
that `ConsumeRequest` accepts. It calls the same `consume_sessions` and builds the same bodies
(`ConsumeRead`, and the 402 of `refused`, with `upgrade_to`). Everything else — a bearer token, a
wrong or missing key, a body that does not validate, an unknown org, a database error — is handed,
body and all, to the full app, which answers it exactly as API.md pins it. Handing over after a
failed call is safe: a consume is idempotent by its key, so the full route's call of the same key
counts it at most once.

It counts what it answers in the same HTTP metrics as every route (route template, method,
status class) and opens no trace span: a consume writes no outbox row, so there is no trace to
carry on.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billing.errors import QuotaExceeded
from billing.schemas import ConsumeRead, ConsumeRequest
from billing.service.meters import MeterAnswer, consume_sessions
from shared.http.deps import key_matches
from shared.http.ids import parse_uuid
from shared.metrics import HTTP_LATENCY, HTTP_REQUESTS

ROUTE = "/v1/orgs/{org_id}/meters/sessions/consume"
_PATH = re.compile(r"/v1/orgs/([^/]+)/meters/sessions/consume")
MAX_BODY_BYTES = 4096  # a consume body is ~60 bytes; anything larger goes the full way
_JSON = b"application/json"


def refused(answer: MeterAnswer, *, what: str) -> tuple[int, dict[str, Any]]:
    """The 402 of a refused use (API.md): the error body with `limit`, `used` and `upgrade_to`."""
    error = QuotaExceeded(
        f"the plan allows {answer.limit} {what}",
        limit=answer.limit,
        used=answer.used,
        upgrade_to=answer.upgrade_to,
    )
    return error.status, error.body()


class QuotaLane:
    """A pure ASGI callable in front of billing's whole FastAPI app, its telemetry included
    (`billing.app.create_served_app`; see the module docstring). Lifespan and every other
    request pass straight through."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str,
        service_key: str,
        max_body_bytes: int,
        pool: Callable[[], Awaitable[Any]],
    ) -> None:
        self._app = app
        self._service = service
        self._service_key = service_key
        self._max_body = min(MAX_BODY_BYTES, max_body_bytes)  # never past PLATFORM_MAX_BODY_BYTES
        self._pool = pool

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        org_id = self.org_of(scope)
        if org_id is None:
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        body, complete = await _read_body(receive, self._max_body)
        answer = await self._answer(org_id, body) if complete else None
        if answer is None:  # the full route answers it, reading the same body
            await self._app(scope, _replay(body, complete, receive), send)
            return
        status, payload = answer
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", _JSON), (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})
        HTTP_REQUESTS.labels(self._service, ROUTE, "POST", f"{status // 100}xx").inc()
        HTTP_LATENCY.labels(self._service, ROUTE, "POST").observe(time.perf_counter() - started)

    def org_of(self, scope: Scope) -> str | None:
        """The canonical org id when this request is one the lane may answer, else None."""
        if scope["type"] != "http" or scope.get("method") != "POST":
            return None
        matched = _PATH.fullmatch(scope.get("path", ""))
        if matched is None:
            return None
        org = parse_uuid(matched.group(1))
        if org is None:
            return None
        headers = dict(scope.get("headers", ()))  # a repeated header: the full route decides
        if len(headers) != len(scope.get("headers", ())):
            return None
        key = headers.get(b"x-service-key")
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        length = headers.get(b"content-length", b"")
        if key is None or content_type != _JSON or not length.isdigit() or int(length) > self._max_body:
            return None
        if not key_matches(key.decode("latin-1"), self._service_key):
            return None
        return str(org)

    async def _answer(self, org_id: str, body: bytes) -> tuple[int, bytes] | None:
        """200 or 402 with its body, or None to hand the request to the full route."""
        try:
            request = ConsumeRequest.model_validate_json(body)
            pool = await self._pool()
            answer = await consume_sessions(
                pool,
                org_id=org_id,
                quantity=request.quantity,
                idempotency_key=request.idempotency_key,
                member=None,  # a trusted backend's call
            )
        except Exception:  # invalid body, unknown org, database error: the full route answers
            return None
        if not answer.accepted:
            status, error = refused(answer, what="sessions this month")
            return status, _json(error)
        read = ConsumeRead(
            used=answer.used, limit=answer.limit, remaining=answer.remaining, resets_at=answer.resets_at
        )
        return 200, read.model_dump_json().encode()


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The body, and whether it is all there (at most `limit` bytes were read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), size <= limit
        if size > limit:
            return b"".join(chunks), False


def _replay(body: bytes, complete: bool, receive: Receive) -> Receive:
    """`receive` for the full app: what the lane read first, then the rest of the stream."""
    replayed = False

    async def again() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": not complete}
        return await receive()

    return again


def _json(content: dict[str, Any]) -> bytes:
    """As Starlette's JSONResponse renders a body."""
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
