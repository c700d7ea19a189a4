"""Over HTTP: an idle personal workspace is archived, kept, and comes back when its owner opens
the app; two admins demoting each other at the same moment always leave an admin."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

import asyncpg
import httpx

from devstack.platform import Platform
from devstack.pytest_plugin import TEST_SERVICE_KEY
from devstack.services import Fleet
from devstack.testing import bearer, bearer_token, call_service, count, fetch, service_db, sign_up
from shared.db.session import Database
from workspace.archiver import Archiver
from workspace.models import Role
from workspace.service.members import add_member


def call(
    fleet: Fleet, method: str, path: str, headers: dict[str, str], **kwargs: Any
) -> Awaitable[httpx.Response]:
    return call_service(fleet, "workspace", method, path, headers=headers, **kwargs)


async def test_an_idle_personal_workspace_is_archived_kept_and_comes_back(
    services: Fleet, platform: Platform, workspace_db: Database
) -> None:
    user_id, claims = await sign_up(services)
    org_id = claims["org_id"]
    owner = await asyncpg.connect(service_db(platform, "workspace"))
    try:  # 91 days without activity, as far as workspace knows
        await owner.execute(
            "UPDATE orgs SET last_active_at = now() - interval '91 days' WHERE id = $1", uuid.UUID(org_id)
        )
    finally:
        await owner.close()

    # The service runs this job every WORKSPACE_ARCHIVE_INTERVAL_SECONDS; here, one round now.
    await Archiver(database=workspace_db, idle_for=timedelta(days=90), interval_seconds=3600).run_once()

    as_backend = {"X-Service-Key": TEST_SERVICE_KEY}  # reading as a backend is not the owner's activity
    archived = (await call(services, "GET", f"/v1/orgs/{org_id}", as_backend)).json()
    assert (archived["status"], archived["is_personal"]) == ("archived", True)
    assert (
        await count(
            platform, "workspace", "SELECT count(*) FROM memberships WHERE org_id = $1", uuid.UUID(org_id)
        )
        == 1
    )

    token = await bearer_token(services, user_id)
    context = (await call(services, "GET", "/v1/me/context", bearer(token))).json()

    assert (context["org"]["id"], context["org"]["status"]) == (org_id, "active")
    assert (await call(services, "GET", f"/v1/orgs/{org_id}", as_backend)).json()["status"] == "active"
    events = await fetch(
        service_db(platform, "workspace"),
        "SELECT event_type, value FROM outbox "
        "WHERE key = $1 AND event_type IN ('org.archived', 'org.restored') ORDER BY position",
        org_id,
    )
    assert [(e["event_type"], json.loads(e["value"])["data"]) for e in events] == [
        ("org.archived", {"org_id": org_id, "reason": "inactive"}),
        ("org.restored", {"org_id": org_id}),
    ]


async def test_two_admins_demoting_each_other_over_http_always_leave_an_admin(
    services: Fleet, workspace_db: Database
) -> None:
    for _ in range(10):
        (first, _), (second, _) = await sign_up(services), await sign_up(services)
        first_token, second_token = await bearer_token(services, first), await bearer_token(services, second)
        slug = f"race-{uuid.uuid4().hex[:12]}"
        org_id = (
            await call(services, "POST", "/v1/orgs", bearer(first_token), json={"name": "R", "slug": slug})
        ).json()["id"]
        async with workspace_db.unit_of_work() as session:
            await add_member(session, org_id=uuid.UUID(org_id), user_id=second, role=Role.ADMIN)

        path = f"/v1/orgs/{org_id}/members"
        answers = await asyncio.gather(
            call(services, "PATCH", f"{path}/{second}", bearer(first_token), json={"role": "trainee"}),
            call(services, "PATCH", f"{path}/{first}", bearer(second_token), json={"role": "trainee"}),
        )

        assert sorted(a.status_code for a in answers) == [200, 403], [a.text for a in answers]
        members = (await call(services, "GET", path, bearer(first_token))).json()["members"]
        assert [m["role"] for m in members].count("admin") == 1
