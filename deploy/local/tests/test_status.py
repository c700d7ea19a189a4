"""`devstack status`: after a signup settles, nothing is stuck anywhere."""

from __future__ import annotations

from devstack.platform import Platform
from devstack.services import Fleet
from devstack.status import collect_status, render
from devstack.testing import (
    complete_claims,
    eventually,
    new_user_id,
    post_auth_webhook,
    settled_status,
    sign_up,
    signup_delivery,
)


async def test_status_reports_no_backlog_once_a_signup_is_done(services: Fleet, platform: Platform) -> None:
    await sign_up(services)

    status = await settled_status(platform)

    assert {b.service for b in status.outboxes} == {
        "identity",
        "workspace",
        "billing",
        "invites",
        "skool-ingest",
    }
    assert {(lag.group, lag.topic) for lag in status.lags} == {
        ("identity", "workspace.orgs"),
        ("identity", "billing.subscriptions"),
        ("workspace", "identity.users"),
        ("workspace", "billing.subscriptions"),
        ("workspace", "invites.invitations"),
        ("workspace", "skool.subscriptions"),
        ("billing", "workspace.orgs"),
        ("billing", "identity.users"),
        ("invites", "workspace.orgs"),
        ("invites", "billing.subscriptions"),
        ("invites", "identity.users"),
        ("skool-ingest", "identity.users"),
        ("skool-ingest", "skool.subscriptions"),
    }
    assert set(status.dead_letters) == {
        "identity.users",
        "workspace.orgs",
        "billing.subscriptions",
        "invites.invitations",
        "skool.subscriptions",
    }
    assert "consumer lag" in render(status)


async def test_status_sees_a_backlog_while_a_consumer_is_down(services: Fleet, platform: Platform) -> None:
    with services["billing"].down():
        user_id = new_user_id()
        body, headers = signup_delivery(user_id=user_id)
        assert (await post_auth_webhook(services, body, headers)).status_code == 200
        status = await eventually(
            lambda: collect_status(kafka=platform.kafka_bootstrap, database_url=platform.database_url),
            until=lambda s: any(lag.group == "billing" and lag.lag > 0 for lag in s.lags),
            what="billing lag visible",
        )
        assert any(lag.group == "billing" and lag.lag > 0 for lag in status.lags)
    await complete_claims(services, user_id)
