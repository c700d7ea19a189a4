"""Only a verified primary address binds a signup to an email invitation (API.md, issue 15): a
signup with the invitee's address, not verified, gets a personal workspace, the invitation stays
pending, and `devstack trace` says why. (A verified one joins: test_email_invitations.py.)"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from devstack.platform import Platform
from devstack.pytest_plugin import TEST_AUTH_SECRET, TEST_OPERATOR_KEY
from devstack.services import Fleet
from devstack.testing import complete_claims, count, eventually, new_user_id, post_auth_webhook, wait_consumed
from devstack.trace import Trace, collect_trace
from devstack.webhooks import clerk_user_created, signed_delivery
from shared.events.topics import INVITES_INVITATIONS

from .test_email_invitations import invite


async def trace_of(services: Fleet, platform: Platform, query: str) -> Trace:
    urls = {name: replica.url for name, replica in services.services.items()}
    return await collect_trace(
        query, urls=urls, operator_key=TEST_OPERATOR_KEY, kafka=platform.kafka_bootstrap
    )


def says(trace: Trace, service: str, words: str) -> bool:
    return any(line.service == service and words in line.what for line in trace.lines)


async def test_an_unverified_address_does_not_join_the_org_that_invited_it(
    services: Fleet, platform: Platform, team_org: Any, invites_client: httpx.AsyncClient
) -> None:
    team = await team_org()
    address = f"invitee-{uuid.uuid4().hex}@example.com"
    assert (await invite(invites_client, team, address, role="manager")).status_code == 201
    await wait_consumed(platform.kafka_bootstrap, group="workspace", topic=INVITES_INVITATIONS)

    user_id = new_user_id()
    payload = clerk_user_created(user_id=user_id, email=address, first_name="Eve", email_verified=False)
    body, headers = signed_delivery(payload, secret=TEST_AUTH_SECRET)
    assert (await post_auth_webhook(services, body, headers)).status_code == 200
    claims = await complete_claims(services, user_id)

    assert (claims["is_personal_org"], claims["plan"]) == (True, "individual_free")
    assert claims["org_id"] != team.org_id
    memberships = "SELECT count(*) FROM memberships WHERE user_id = $1"
    assert await count(platform, "workspace", memberships, user_id) == 1
    listed = (
        await invites_client.get(f"/v1/orgs/{team.org_id}/invitations", headers=team.admin_headers)
    ).json()
    assert [i["status"] for i in listed["invitations"]] == ["pending"]
    trace = await eventually(
        lambda: trace_of(services, platform, user_id),
        until=lambda found: says(found, "workspace", "email_unverified"),
        what=f"the reason {user_id} got a personal workspace, in the timeline",
    )
    line = next(line for line in trace.lines if "email_unverified" in line.what)
    assert "email invitation" in line.what and "personal workspace" in line.what
