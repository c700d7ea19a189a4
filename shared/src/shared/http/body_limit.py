"""Request bodies over a size limit are refused with 413 `payload_too_large` before they are
read whole (API.md, "Hostile input"): 1 MiB by default, 256 KiB for webhooks (`/v1/webhooks/*`).

A pure ASGI middleware, outside every route: a `Content-Length` over the limit is refused at
once, without reading a byte of the body; a body without a length (chunked) is counted as it
streams in and refused as soon as it passes the limit, so a process never holds more than the
limit plus one chunk of it. The refusal closes the connection (`Connection: close`), so the
server stops reading whatever the client still sends.

A route that is already reading when the limit is passed gets an exception from `receive()`;
the 413 has been sent by then, and whatever the route answers next is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import error_body
from shared.http.openapi import document_for_bodies
from shared.settings import ServiceSettings

PAYLOAD_TOO_LARGE = "payload_too_large"
WEBHOOK_PREFIX = "/v1/webhooks/"
# More digits than any limit can have: refused without converting (a 5,000-digit length would
# make int() raise).
_MAX_LENGTH_DIGITS = 18
# After a 413, what is still read (and dropped) before the connection closes: see `_refuse`.
DRAIN_BYTES = 4 * 1024 * 1024
DRAIN_SECONDS = 1.0


class BodyTooLarge(Exception):
    """Raised from `receive()` once a streamed body passed its limit (the 413 is already sent).

    Not a DomainError on purpose: no handler of the app maps it, so it travels back out to the
    middleware that raised it."""


def install_body_limit(app: FastAPI, settings: ServiceSettings) -> None:
    """Refuse bodies over the configured limits, and document the 413 on every operation that
    takes a body (POST, PUT, PATCH)."""
    app.add_middleware(
        BodyLimit,
        default_limit=settings.max_body_bytes,
        webhook_limit=settings.max_webhook_body_bytes,
    )
    document_for_bodies(
        app,
        status=413,
        description=f"error codes: `{PAYLOAD_TOO_LARGE}` (the body is over the size limit: "
        f"{_size(settings.max_body_bytes)}, webhooks {_size(settings.max_webhook_body_bytes)})",
    )


class BodyLimit:
    """The middleware: see the module's docstring."""

    def __init__(self, app: ASGIApp, *, default_limit: int, webhook_limit: int) -> None:
        self._app = app
        self._default_limit = default_limit
        self._webhook_limit = webhook_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        limit = self._webhook_limit if path.startswith(WEBHOOK_PREFIX) else self._default_limit
        if _declared_length_over(scope, limit):
            await _refuse(send, receive, limit)
            return
        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received, response_started
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if not response_started:
                        response_started = True
                        await _refuse(send, receive, limit)
                    raise BodyTooLarge(f"the body passed {limit} bytes")
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                if response_started:
                    return  # the 413 went out already: the route's own answer is dropped
                response_started = True
            elif received > limit:
                return
            await send(message)

        try:
            await self._app(scope, counting_receive, guarded_send)
        except Exception:
            if received > limit:
                return  # BodyTooLarge, or what a route made of it: answered already
            raise


def _declared_length_over(scope: Scope, limit: int) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            # The HTTP parser has already refused a length that is not a decimal number.
            digits = bytes(value).strip()
            return len(digits) > _MAX_LENGTH_DIGITS or (digits.isdigit() and int(digits) > limit)
    return False


async def _refuse(send: Send, receive: Receive, limit: int) -> None:
    """Answer 413, then read and drop what the client is still sending (bounded) before the
    connection closes: closed with unread bytes in it, the socket would answer the client's next
    segment with a reset, and a client still writing could lose the 413 it had not yet read."""
    body = json.dumps(
        error_body(PAYLOAD_TOO_LARGE, f"the request body is over the limit of {limit} bytes")
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    # The whole answer goes out now; the response stays open (more_body) while draining, since
    # the server hands no more of the request to an app whose response is complete.
    await send({"type": "http.response.body", "body": body, "more_body": True})
    await _drain(receive)
    await send({"type": "http.response.body", "body": b""})


async def _drain(receive: Receive) -> None:
    """Discard the rest of the body, at most `DRAIN_BYTES` or `DRAIN_SECONDS`, whichever first."""
    drained = 0
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DRAIN_SECONDS):
            while drained < DRAIN_BYTES:
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    return
                drained += len(message.get("body", b""))


def _size(limit: int) -> str:
    if limit % 1024 == 0 and limit >= 1024:
        return f"{limit // 1024 // 1024} MiB" if limit % (1024 * 1024) == 0 else f"{limit // 1024} KiB"
    return f"{limit} bytes"
