"""Only a verified primary address binds a Skool entitlement (API.md, issue 15): a signup with a
waiting entitlement's address, not verified, gets a personal workspace and the entitlement keeps
waiting (reason in `devstack trace`); an account whose address is unverified is no account to
Skool: no org for it, and the address gets the welcome email. (Verified ones bind:
test_skool_provisioning.py.)"""

from __future__ import annotations

import uuid

from devstack.platform import Platform
from devstack.pytest_plugin import TEST_AUTH_SECRET, TEST_OPERATOR_KEY
from devstack.services import Fleet
from devstack.testing import (
    complete_claims,
    count,
    eventually,
    mails_to,
    new_user_id,
    post_auth_webhook,
    wait_consumed,
)
from devstack.trace import Trace, collect_trace
from devstack.webhooks import clerk_user_created, signed_delivery
from shared.events.topics import IDENTITY_USERS, SKOOL_SUBSCRIPTIONS

from .test_skool_provisioning import post_skool, skool_delivery


async def trace_of(services: Fleet, platform: Platform, query: str) -> Trace:
    urls = {name: replica.url for name, replica in services.services.items()}
    return await collect_trace(
        query, urls=urls, operator_key=TEST_OPERATOR_KEY, kafka=platform.kafka_bootstrap
    )


async def sign_up_unverified(services: Fleet, address: str) -> str:
    user_id = new_user_id()
    payload = clerk_user_created(user_id=user_id, email=address, first_name="Eve", email_verified=False)
    body, headers = signed_delivery(payload, secret=TEST_AUTH_SECRET)
    assert (await post_auth_webhook(services, body, headers)).status_code == 200
    return user_id


async def test_an_unverified_signup_does_not_take_a_waiting_skool_entitlement(
    services: Fleet, platform: Platform
) -> None:
    address = f"skool-{uuid.uuid4().hex[:12]}@example.com"
    assert await post_skool(services, skool_delivery(email=address)) == "accepted"
    await wait_consumed(platform.kafka_bootstrap, group="workspace", topic=SKOOL_SUBSCRIPTIONS)

    user_id = await sign_up_unverified(services, address)
    claims = await complete_claims(services, user_id)

    assert (claims["plan"], claims["is_personal_org"]) == ("individual_free", True)
    waiting = "SELECT count(*) FROM skool_entitlements WHERE email = $1 AND org_id IS NULL"
    assert await count(platform, "workspace", waiting, address) == 1
    trace = await eventually(
        lambda: trace_of(services, platform, user_id),
        until=lambda found: any("email_unverified" in line.what for line in found.lines),
        what=f"the reason {user_id} got no Skool org, in the timeline",
    )
    line = next(line for line in trace.lines if "email_unverified" in line.what)
    assert line.service == "workspace" and "Skool entitlement" in line.what


async def test_an_account_with_an_unverified_address_gets_no_skool_org_and_the_address_its_welcome(
    services: Fleet, platform: Platform
) -> None:
    address = f"skool-{uuid.uuid4().hex[:12]}@example.com"
    user_id = await sign_up_unverified(services, address)
    await complete_claims(services, user_id)
    for group in ("workspace", "skool-ingest"):
        await wait_consumed(platform.kafka_bootstrap, group=group, topic=IDENTITY_USERS)

    assert await post_skool(services, skool_delivery(email=address)) == "accepted"

    await eventually(
        lambda: _mail_count(platform, address), until=lambda n: n == 1, what=f"welcome to {address}"
    )
    await wait_consumed(platform.kafka_bootstrap, group="workspace", topic=SKOOL_SUBSCRIPTIONS)
    memberships = "SELECT count(*) FROM memberships WHERE user_id = $1"
    assert await count(platform, "workspace", memberships, user_id) == 1  # their personal org only
    waiting = "SELECT count(*) FROM skool_entitlements WHERE email = $1 AND org_id IS NULL"
    assert await count(platform, "workspace", waiting, address) == 1


async def _mail_count(platform: Platform, address: str) -> int:
    return len(mails_to(platform, address))
