"""Hostile bodies against the real services, over raw sockets (API.md, "Hostile input").

A body over 1 MiB (webhooks: 256 KiB) is refused with 413 `payload_too_large` before it is read
whole: a huge `Content-Length` at once, a chunked stream as soon as it passes the limit. The
sender needs no credentials (the limit comes before authentication), the process's peak memory
does not grow by the body's size, and the service keeps answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from devstack.services import Fleet, RunningService

MiB = 1024 * 1024
CHUNK = b"x" * (64 * 1024)
# What a chunked sender pushes at most: without the limit, the service would hold all of it.
STREAMED = 96 * MiB
# The 413 must come well before a slow reader could have taken the body in.
ANSWER_WITHIN = 5.0

ROUTES = [
    pytest.param("skool-ingest", "/v1/webhooks/skool", id="unauthenticated webhook"),
    pytest.param("workspace", "/v1/orgs", id="bearer route, no token"),
]


@dataclass
class Answer:
    status: int
    code: str | None
    seconds: float


def peak_rss(replica: RunningService) -> int:
    """The process's peak resident memory (VmHWM), in bytes."""
    assert replica.process is not None
    for line in Path(f"/proc/{replica.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


def reset_peak_rss(replica: RunningService) -> None:
    """Start measuring the peak from now (Linux: `5` into clear_refs resets VmHWM)."""
    assert replica.process is not None
    with contextlib.suppress(OSError):
        Path(f"/proc/{replica.process.pid}/clear_refs").write_text("5")


def chunked(total: int) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n"
        sent += len(CHUNK)
    yield b"0\r\n\r\n"


async def send_raw(
    replica: RunningService, path: str, *, headers: dict[str, str], body: Iterator[bytes]
) -> Answer:
    """Write the request head, then the body while waiting for an answer; stop writing once the
    answer came (or the server closed)."""
    url = httpx.URL(replica.own_url)
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(url.host, url.port)
    head = f"POST {path} HTTP/1.1\r\nHost: {url.host}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()
    )
    writer.write(head.encode() + b"\r\n")

    answered = asyncio.Event()

    async def write_body() -> None:
        # Full duplex, as an HTTP client is: after each piece the reader gets its turn (drain()
        # does not yield while the socket takes the data), so an answer that came is read before
        # more is written. A writer that never yields keeps sending past the server's bounded
        # drain, and the reset of the closed socket then discards the unread 413 (seen in CI
        # runs on a loaded machine).
        with contextlib.suppress(ConnectionError, OSError):
            for piece in body:
                if answered.is_set() or reader.at_eof():  # the server has spoken
                    return
                writer.write(piece)
                await writer.drain()
                await asyncio.sleep(0)

    async def read_answer() -> Answer:
        response_head = await reader.readuntil(b"\r\n\r\n")
        answered.set()
        seconds = time.monotonic() - started
        lines = response_head.decode("latin-1").split("\r\n")
        fields = {
            name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])
        }
        content = await reader.readexactly(int(fields.get("content-length", "0")))
        code = json.loads(content)["error"]["code"] if content.startswith(b"{") else None
        return Answer(status=int(lines[0].split()[1]), code=code, seconds=seconds)

    writing = asyncio.create_task(write_body())
    try:
        return await asyncio.wait_for(read_answer(), timeout=60)
    finally:
        writing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writing
        # Once the answer is read, how the connection ends is not under test: the server closes
        # it while this side may still be writing, and the transport then holds a reset, which it
        # hands to whoever waits on it next.
        writer.transport.abort()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def still_answers(replica: RunningService) -> None:
    async with httpx.AsyncClient(base_url=replica.own_url, timeout=10) as client:
        assert (await client.get("/healthz")).status_code == 200


@pytest.mark.parametrize(("service", "path"), ROUTES)
async def test_a_huge_declared_length_is_refused_at_once_without_reading(
    services: Fleet, service: str, path: str
) -> None:
    replica = services[service]
    headers = {"Content-Type": "application/json", "Content-Length": str(8 * 1024 * MiB)}

    # 256 KiB of an announced 8 GiB are sent; the answer must not wait for the rest.
    answer = await asyncio.wait_for(
        send_raw(replica, path, headers=headers, body=iter([CHUNK] * 4)), timeout=ANSWER_WITHIN
    )

    assert (answer.status, answer.code) == (413, "payload_too_large")
    await still_answers(replica)


@pytest.mark.parametrize(("service", "path"), ROUTES)
async def test_a_chunked_stream_is_cut_at_the_limit_and_never_held_in_memory(
    services: Fleet, service: str, path: str
) -> None:
    replica = services[service]
    reset_peak_rss(replica)
    before = peak_rss(replica)
    headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}

    answer = await send_raw(replica, path, headers=headers, body=chunked(STREAMED))

    grown = peak_rss(replica) - before
    assert (answer.status, answer.code) == (413, "payload_too_large")
    assert answer.seconds < ANSWER_WITHIN
    # Held whole, the stream would raise the peak by all of it; the margin absorbs what the
    # replica does meanwhile for the rest of the suite (its consumers, other requests).
    assert grown < STREAMED // 3, (
        f"peak memory grew by {grown / MiB:.1f} MiB for a {STREAMED // MiB} MiB stream"
    )
    await still_answers(replica)


async def test_bodies_within_the_limits_are_still_served(services: Fleet) -> None:
    async with httpx.AsyncClient(base_url=services["skool-ingest"].url, timeout=10) as client:
        # Just under 256 KiB: read, then refused for its signature (it has none), not its size.
        response = await client.post("/v1/webhooks/skool", content=b"x" * (256 * 1024 - 1))
    assert (response.status_code, response.json()["error"]["code"]) == (401, "invalid_signature")
    async with httpx.AsyncClient(base_url=services["workspace"].url, timeout=10) as client:
        padded = b'{"name": "Padded", "slug": "padded-org"}'.ljust(MiB - 1)  # JSON allows the spaces
        response = await client.post("/v1/orgs", content=padded, headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()["error"]["code"]) == (401, "invalid_token")
