"""`devstack trace <id>`: one signup's timeline across the services, where it stops, dead letters,
and the operator endpoints' refusals (docs/operations.md, "Timeline")."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from devstack.platform import Platform
from devstack.pytest_plugin import TEST_AUTH_SECRET, TEST_ENV, TEST_OPERATOR_KEY
from devstack.services import SERVICES, Fleet
from devstack.stripe_mock import sign_stripe_payload
from devstack.testing import (
    bearer_token,
    call_service,
    complete_claims,
    eventually,
    new_slug,
    new_user_id,
    post_auth_webhook,
    publish,
    request_token,
    sign_up,
    signup_delivery,
)
from devstack.trace import Line, Trace, collect_trace, partition_of
from devstack.webhooks import clerk_user_created, signed_delivery
from shared.events.envelope import Envelope
from skool_ingest.signature import HEADER, sign

TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
OPERATOR_ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/v1/ops/timeline", {"params": {"q": "anyone"}}),
    ("POST", "/v1/ops/consumptions", {"json": {"event_ids": []}}),
    ("GET", "/v1/ops/subscriptions", {}),
]


async def _trace(services: Fleet, platform: Platform, query: str) -> Trace:
    urls = {name: replica.url for name, replica in services.services.items()}
    return await collect_trace(
        query, urls=urls, operator_key=TEST_OPERATOR_KEY, kafka=platform.kafka_bootstrap
    )


def _first(trace: Trace, service: str, kind: str, event_type: str) -> int:
    """The index of the first line of that kind; -1 when there is none."""
    for index, line in enumerate(trace.lines):
        if (line.service, line.kind, line.event_type) == (service, kind, event_type):
            return index
    return -1


# Every stage of a signup, from the auth webhook to the claims projection, in the order it happens.
SIGNUP_STAGES = [
    ("identity", "webhook", "user.created"),
    ("identity", "published", "user.created"),
    ("workspace", "consumed", "user.created"),
    ("workspace", "published", "org.created"),
    ("billing", "consumed", "org.created"),
    ("workspace", "published", "membership.added"),
    ("identity", "consumed", "membership.added"),
    ("billing", "published", "subscription.changed"),
    ("identity", "consumed", "subscription.changed"),
]


def _stages_found(trace: Trace) -> list[int]:
    return [_first(trace, *stage) for stage in SIGNUP_STAGES]


def _complete(trace: Trace) -> bool:
    """Every stage is there and nothing is still on its way (another group may lag a moment)."""
    return -1 not in _stages_found(trace) and not [
        line for line in trace.lines if line.kind in ("missing", "waiting")
    ]


@pytest.mark.parametrize("by", ["user id", "email"])
async def test_a_signups_timeline_lists_every_stage_in_order_with_trace_ids(
    services: Fleet, platform: Platform, by: str
) -> None:
    user_id, claims = await sign_up(services)
    query = user_id if by == "user id" else f"{user_id}@example.com"

    trace = await eventually(
        lambda: _trace(services, platform, query),
        until=_complete,
        what=f"every stage of {user_id}'s signup in its timeline",
    )

    stages = _stages_found(trace)
    org_created = trace.lines[stages[3]]
    membership = trace.lines[stages[5]]
    # Each stage follows the one it depends on (a consumption follows its publication).
    assert stages[0] < stages[1] < stages[2] < stages[3] < stages[4]
    assert stages[2] < stages[5] < stages[6]
    assert stages[4] < stages[7] < stages[8]
    assert [line.at for line in trace.lines] == sorted(line.at for line in trace.lines)
    assert org_created.trace_id == membership.trace_id  # one transaction, one trace
    assert all(TRACE_ID.match(line.trace_id) for line in trace.lines), trace.lines
    # The webhook's trace goes on into the user.created it caused.
    assert trace.lines[stages[0]].trace_id == trace.lines[stages[1]].trace_id
    assert claims["org_id"] in trace.searched  # found through workspace's related ids
    assert org_created.event_id and membership.event_id
    assert not [line for line in trace.lines if line.kind == "dead-lettered"]


# An org's own story starts at its creation (the user's webhook is in the user's timeline).
ORG_STAGES = SIGNUP_STAGES[3:]


async def test_an_orgs_timeline_starts_at_its_creation_and_reaches_the_claims(
    services: Fleet, platform: Platform
) -> None:
    _, claims = await sign_up(services)

    trace = await eventually(
        lambda: _trace(services, platform, claims["org_id"]),
        until=lambda found: (
            all(_first(found, *stage) >= 0 for stage in ORG_STAGES)
            and not [line for line in found.lines if line.kind in ("missing", "waiting")]
        ),
        what=f"every stage of org {claims['org_id']} in its timeline",
    )

    stages = [_first(trace, *stage) for stage in ORG_STAGES]
    assert stages[0] < stages[1] < stages[4] < stages[5]  # org.created → billing → subscription → identity
    assert stages[2] < stages[3]  # membership.added → identity
    assert _first(trace, "identity", "webhook", "user.created") == -1  # the user's story, not the org's
    assert [line.at for line in trace.lines] == sorted(line.at for line in trace.lines)


def _has(trace: Trace, *stages: tuple[str, str, str]) -> bool:
    return all(_first(trace, *stage) >= 0 for stage in stages)


async def test_an_invitation_slugs_timeline_follows_the_link_to_the_invited_signup(
    services: Fleet, platform: Platform
) -> None:
    admin_id, _ = await sign_up(services)
    token = await bearer_token(services, admin_id)
    created = await call_service(
        services, "workspace", "POST", "/v1/orgs", token=token, json={"name": "Team", "slug": new_slug()}
    )
    assert created.status_code == 201, created.text
    org_id = created.json()["id"]

    async def create_link() -> httpx.Response:
        # A token for the team org once identity knows the membership, then a link once invites
        # knows the org and its admin (both from workspace's events).
        for_org = await request_token(services, admin_id, org_id=org_id)
        if for_org.status_code != 200:
            return for_org
        return await call_service(
            services,
            "invites",
            "POST",
            f"/v1/orgs/{org_id}/invitation-links",
            token=for_org.json()["access_token"],
            json={"role": "trainee"},
        )

    link = await eventually(
        create_link, until=lambda response: response.status_code == 201, what="an invitation link"
    )
    slug = link.json()["slug"]
    user_id = new_user_id()
    payload = clerk_user_created(
        user_id=user_id, email=f"{user_id}@example.com", first_name="Lin", pending_invitation=slug
    )
    body, headers = signed_delivery(payload, secret=TEST_AUTH_SECRET)
    assert (await post_auth_webhook(services, body, headers)).status_code == 200
    await complete_claims(services, user_id)

    trace = await eventually(
        lambda: _trace(services, platform, slug),
        until=lambda found: _has(
            found,
            ("invites", "published", "invitation.created"),
            ("identity", "published", "user.created"),  # its payload names the slug
            ("invites", "published", "invitation.accepted"),
            ("workspace", "consumed", "invitation.accepted"),
        ),
        what=f"the link {slug} and the signup that used it in its timeline",
    )

    assert org_id in trace.searched  # invites' related ids: the link's org (and the link's id)
    accepted = trace.lines[_first(trace, "invites", "published", "invitation.accepted")]
    signup = trace.lines[_first(trace, "identity", "published", "user.created")]
    assert signup.at < accepted.at and signup.trace_id == accepted.trace_id


async def test_a_skool_members_timeline_by_email_starts_at_the_skool_webhook(
    services: Fleet, platform: Platform
) -> None:
    email = f"skool-{uuid.uuid4().hex[:12]}@example.com"
    member_id = f"mem_{uuid.uuid4().hex[:12]}"
    raw = json.dumps(
        {
            "event": "member.subscribed",
            "email": email,
            "skool_member_id": member_id,
            "first_name": "Sam",
            "community_id": "closers-club",
            "community_name": "Closers Club",
            "occurred_at": "2026-11-01T09:00:00Z",
        }
    ).encode()
    secret = TEST_ENV["SKOOL_INGEST_WEBHOOK_SECRET"]
    headers = {HEADER: sign(secret=secret, timestamp=int(time.time()), body=raw)}
    delivered = await call_service(
        services, "skool-ingest", "POST", "/v1/webhooks/skool", content=raw, headers=headers
    )
    assert delivered.status_code == 202, delivered.text

    stages = [
        ("skool-ingest", "webhook", "member.subscribed"),
        ("skool-ingest", "published", "skool.subscribed"),
        ("workspace", "consumed", "skool.subscribed"),
    ]
    trace = await eventually(
        lambda: _trace(services, platform, email),
        until=lambda found: _has(found, *stages),
        what=f"{email}'s Skool delivery and its event in the timeline",
    )

    webhook, published, consumed = (trace.lines[_first(trace, *stage)] for stage in stages)
    assert webhook.at <= published.at < consumed.at
    assert TRACE_ID.match(webhook.trace_id) and webhook.trace_id == published.trace_id == consumed.trace_id
    assert member_id in trace.searched  # skool-ingest's related ids
    by_member_id = await _trace(services, platform, member_id)
    assert _has(by_member_id, *stages[:2])


async def test_a_stripe_upgrade_shows_in_the_users_timeline_from_its_webhook_to_the_claims(
    services: Fleet, platform: Platform
) -> None:
    user_id, claims = await sign_up(services)
    org_id = claims["org_id"]
    event: dict[str, Any] = {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": "customer.subscription.created",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": f"sub_{uuid.uuid4().hex[:14]}",
                "object": "subscription",
                "customer": f"cus_{uuid.uuid4().hex[:10]}",
                "status": "active",
                "cancel_at_period_end": False,
                "current_period_end": int(time.time()) + 30 * 86400,
                "metadata": {"org_id": org_id},
                "items": {"object": "list", "data": [{"price": {"id": "price_individual_pro_month"}}]},
            }
        },
    }
    body = json.dumps(event).encode()
    signature = sign_stripe_payload(body, secret=TEST_ENV["BILLING_STRIPE_WEBHOOK_SECRET"])
    delivered = await call_service(
        services,
        "billing",
        "POST",
        "/v1/webhooks/stripe",
        content=body,
        headers={"Stripe-Signature": signature},
    )
    assert delivered.json()["status"] == "processed", delivered.text

    def upgrade(trace: Trace) -> tuple[Line, Line, Line] | None:
        """billing's webhook, the event it published in the same trace, identity consuming it."""
        webhooks = [line for line in trace.lines if (line.service, line.kind) == ("billing", "webhook")]
        if not webhooks:
            return None
        changed = [
            line
            for line in trace.lines
            if (line.service, line.kind, line.event_type) == ("billing", "published", "subscription.changed")
            and line.trace_id == webhooks[0].trace_id
        ]
        if not changed:
            return None
        consumed = [
            line
            for line in trace.lines
            if (line.service, line.kind) == ("identity", "consumed") and line.event_id == changed[0].event_id
        ]
        return (webhooks[0], changed[0], consumed[0]) if consumed else None

    trace = await eventually(
        lambda: _trace(services, platform, user_id),
        until=lambda found: upgrade(found) is not None,
        what="the Stripe upgrade, from webhook to identity's claims, in the user's timeline",
    )

    found = upgrade(trace)
    assert found is not None
    webhook, changed, consumed = found
    assert event["id"] in webhook.what and webhook.event_type == "customer.subscription.created"
    assert webhook.at <= changed.at < consumed.at and TRACE_ID.match(webhook.trace_id)


async def test_with_billing_stopped_the_timeline_shows_where_the_signup_stops_and_the_lag(
    services: Fleet, platform: Platform
) -> None:
    billing = services["billing"]
    user_id = new_user_id()
    billing.kill()
    try:
        body, headers = signup_delivery(user_id=user_id)
        assert (await post_auth_webhook(services, body, headers)).status_code == 200

        def stopped_at_billing(trace: Trace) -> list[Line]:
            return [
                line
                for line in trace.lines
                if (line.kind, line.service, line.event_type) == ("missing", "billing", "org.created")
            ]

        trace = await eventually(
            lambda: _trace(services, platform, user_id),
            until=lambda found: bool(stopped_at_billing(found)),
            what="org.created shown as not consumed by billing",
        )
    finally:
        billing.start()  # from this (main) thread: a child started in a worker thread dies with it
        await asyncio.to_thread(billing.wait_ready)

    [missing] = stopped_at_billing(trace)
    match = re.search(r"NOT consumed by billing \(lag (\d+) on workspace\.orgs\[(\d+)\]", missing.what)
    assert match, missing.what
    org_created = next(line for line in trace.lines if line.event_id == missing.event_id)
    assert org_created.kind == "published"
    assert int(match.group(1)) >= 1
    org_id = next(value for value in trace.searched if value != user_id and "@" not in value)
    partitions = list(range(platform.topic_partitions.of("workspace.orgs")))
    assert int(match.group(2)) == partition_of(org_id, partitions)
    assert TRACE_ID.match(missing.trace_id)
    assert _first(trace, "workspace", "consumed", "user.created") >= 0  # it got that far
    assert trace.unreachable == ["billing"] and "billing did not answer" in " ".join(trace.notes)
    # Once billing is back, the signup completes and the timeline has nothing missing.
    await complete_claims(services, user_id)
    after = await eventually(
        lambda: _trace(services, platform, user_id),
        until=lambda found: (
            _first(found, "billing", "consumed", "org.created") >= 0
            and not [line for line in found.lines if line.kind == "missing"]
        ),
        what="the timeline complete once billing is back",
    )
    assert not after.notes


async def test_a_poisoned_event_shows_as_dead_lettered_with_its_error_and_attempts(
    services: Fleet, platform: Platform
) -> None:
    user_id = new_user_id()
    trace_id = uuid.uuid4().hex
    poisoned = Envelope(
        id=uuid.uuid4(),
        type="user.created",
        source="identity",
        time=datetime.now(UTC),
        subject=user_id,
        traceparent=f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01",
        data={"email": f"{user_id}@example.com"},  # no user_id: every consumer's handler refuses it
    )
    await publish(platform.kafka_bootstrap, "identity.users", key=user_id, value=poisoned.to_bytes())

    def dead_letters(trace: Trace) -> dict[str, Line]:
        return {line.service: line for line in trace.lines if line.kind == "dead-lettered"}

    consumers = {"workspace", "invites", "skool-ingest"}  # the groups that handle user.created
    trace = await eventually(
        lambda: _trace(services, platform, user_id),
        until=lambda found: set(dead_letters(found)) >= consumers,
        what="the poisoned user.created dead-lettered by each consumer",
    )

    for consumer in consumers:
        line = dead_letters(trace)[consumer]
        assert line.event_id == str(poisoned.id)
        assert line.event_type == "user.created"
        assert line.trace_id == trace_id
        # A payload that does not validate is permanent: dead-lettered at the first attempt.
        assert "after 1 attempt(s): 1 validation error for UserCreated user_id Field required" in line.what


async def test_operator_endpoints_refuse_without_the_service_key_and_take_odd_text_safely(
    services: Fleet,
) -> None:
    # Odd text matches only itself. Each query is made unique (other tests' rows, the fuzzing's
    # above all, may hold any text), and the wildcard ones are built on an id that exists: as a
    # LIKE pattern `%`, `_` or a backslash would match this user's rows, as text they match nothing.
    user_id, _ = await sign_up(services)
    unique = uuid.uuid4().hex
    odd_queries = [
        user_id[:-3] + "%",
        user_id[:-1] + "_",
        user_id[:-1] + "\\" + user_id[-1],
        f"'; DROP TABLE outbox; -- {unique}",
        f'"}} {unique}',
        f"é✓🙂 {unique}",
        unique + "x" * (320 - len(unique)),
    ]
    for spec in SERVICES:
        async with httpx.AsyncClient(base_url=services[spec.name].url, timeout=10) as client:
            for method, path, kwargs in OPERATOR_ROUTES:
                for headers in ({}, {"X-Service-Key": "not-the-key"}):
                    response = await client.request(method, path, headers=headers, **kwargs)
                    assert response.status_code == 401, (spec.name, path, response.text)
                    assert response.json()["error"]["code"] == "invalid_service_key"
            for odd in odd_queries:
                answer = await client.get(
                    "/v1/ops/timeline", params={"q": odd}, headers={"X-Service-Key": TEST_OPERATOR_KEY}
                )
                assert answer.status_code == 200 and answer.json()["entries"] == [], (spec.name, odd)
            too_long = await client.get(
                "/v1/ops/timeline", params={"q": "x" * 321}, headers={"X-Service-Key": TEST_OPERATOR_KEY}
            )
            assert too_long.status_code == 422, too_long.text
            nul = await client.get(
                "/v1/ops/timeline", params={"q": "a\x00b"}, headers={"X-Service-Key": TEST_OPERATOR_KEY}
            )
            assert nul.status_code == 422, nul.text  # PostgreSQL text holds no NUL: refused, not a 500
            assert nul.json()["error"]["code"] == "validation_error"
            schema = (await client.get("/openapi.json")).json()
        for method, path, _ in OPERATOR_ROUTES:
            assert "401" in schema["paths"][path][method.lower()]["responses"], (spec.name, path)


async def test_an_unknown_id_gives_an_empty_timeline_said_plainly(
    services: Fleet, platform: Platform
) -> None:
    unknown = f"nobody-{uuid.uuid4().hex}"
    offset = services["identity"].port - next(spec.port for spec in SERVICES if spec.name == "identity")
    command = [
        sys.executable,
        "-m",
        "devstack",
        "trace",
        unknown,
        "--port-offset",
        str(offset),
        "--bootstrap",
        platform.kafka_bootstrap,
        "--operator-key",
        TEST_OPERATOR_KEY,
    ]

    plain = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=60)

    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip() == f"nothing found for {unknown}"
    trace = await _trace(services, platform, unknown)
    assert (trace.found, trace.lines, trace.notes, trace.searched) == (False, [], [], [unknown])
    assert trace.complete
