"""invites has no flows yet (later issues); it already runs, migrates and reports readiness."""

from __future__ import annotations

import httpx

from devstack.services import Fleet


async def test_invites_is_alive_and_ready(services: Fleet) -> None:
    async with httpx.AsyncClient(base_url=services["invites"].url) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = (await client.get("/readyz")).json()
    assert ready == {"status": "ready", "checks": {"database": True, "broker": True}}
