"""What the API fuzzing found (tests/e2e/test_api_fuzzing.py, and signed webhook deliveries
probed the same way), pinned: text PostgreSQL cannot store, a body that is not UTF-8, control
characters bound for an email header, numbers past a column's range and objects of the wrong
shape are a clear 4xx, never a 500, and nothing is written."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import pytest

from devstack.pytest_plugin import TEST_AUTH_SECRET, TEST_ENV, TEST_SERVICE_KEY, TEST_TOKEN_MINT_KEY
from devstack.services import Fleet
from devstack.stripe_mock import sign_stripe_payload
from devstack.testing import (
    bearer_token,
    call_service,
    new_slug,
    new_user_id,
    post_auth_webhook,
    read_claims,
    sign_up,
    signup_delivery,
)
from devstack.webhooks import clerk_user_created, signed_delivery
from invites.mailer import InvitationEmail, compose
from invites.settings import InvitesSettings

SERVICE_KEY = {"X-Service-Key": TEST_SERVICE_KEY}
MINT_KEY = {"X-Service-Key": TEST_TOKEN_MINT_KEY}


def error_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


async def test_a_nul_in_a_field_or_a_path_is_a_422_not_a_500(services: Fleet) -> None:
    token = await call_service(
        services, "identity", "POST", "/v1/tokens", json={"user_id": "a\x00"}, headers=MINT_KEY
    )
    claims = await call_service(services, "identity", "GET", "/v1/users/a%00b/claims", headers=SERVICE_KEY)

    assert error_of(token) == (422, "validation_error")
    assert error_of(claims) == (422, "validation_error")


async def test_a_refused_nul_consumes_no_session(services: Fleet) -> None:
    _, claims = await sign_up(services)
    org = claims["org_id"]
    path = f"/v1/orgs/{org}/meters/sessions/consume"

    refused = await call_service(
        services, "billing", "POST", path, json={"idempotency_key": "k\x00"}, headers=SERVICE_KEY
    )
    entitlements = await call_service(
        services, "billing", "GET", f"/v1/orgs/{org}/entitlements", headers=SERVICE_KEY
    )

    assert error_of(refused) == (422, "validation_error")
    assert entitlements.json()["usage"]["sessions"] == 0


async def test_a_signed_auth_delivery_with_a_nul_is_malformed_and_makes_no_user(services: Fleet) -> None:
    user_id = new_user_id()
    body, headers = signup_delivery(user_id=user_id, first_name="A\x00da")

    answer = await post_auth_webhook(services, body, headers)

    assert error_of(answer) == (400, "malformed_payload")
    assert (await read_claims(services, user_id))["status"] == 404


async def test_a_body_that_is_not_utf8_is_a_422(services: Fleet) -> None:
    user_id, _ = await sign_up(services)
    token = await bearer_token(services, user_id)

    answer = await call_service(
        services,
        "workspace",
        "POST",
        "/v1/orgs",
        token=token,
        content=b'{"name": "\xff\xfe", "slug": "x"}',
        headers={"content-type": "application/json"},
    )

    assert error_of(answer) == (422, "validation_error")


async def test_an_org_name_with_a_line_break_is_refused_and_not_created(services: Fleet) -> None:
    user_id, _ = await sign_up(services)
    token = await bearer_token(services, user_id)
    slug = new_slug()

    answer = await call_service(
        services,
        "workspace",
        "POST",
        "/v1/orgs",
        token=token,
        json={"name": "Ada\nBcc: x@example.com", "slug": slug},
    )
    workspaces = await call_service(services, "workspace", "GET", "/v1/me/workspaces", token=token)

    assert error_of(answer) == (422, "validation_error")
    assert slug not in [workspace["slug"] for workspace in workspaces.json()["workspaces"]]


async def test_an_invitation_to_an_address_with_a_control_character_is_refused(services: Fleet) -> None:
    user_id, _ = await sign_up(services)
    token = await bearer_token(services, user_id)
    path = f"/v1/orgs/{uuid.uuid4()}/invitations"

    answer = await call_service(
        services,
        "invites",
        "POST",
        path,
        token=token,
        json={"email": "ada\x1c@example.com", "role": "trainee"},
    )

    assert error_of(answer) == (422, "validation_error")


def test_an_invitation_email_keeps_an_org_name_with_line_breaks_on_one_header_line() -> None:
    settings = InvitesSettings()
    invitation = InvitationEmail(
        to="ada@example.com", org_name="Ada\x1cSales\nBcc: x@example.com", role="trainee", token="t"
    )

    message = compose(settings, invitation)

    assert message["Subject"] == "You are invited to join Ada Sales Bcc: x@example.com"
    assert message["Bcc"] is None


async def post_stripe_event(fleet: Fleet, **fields: Any) -> httpx.Response:
    event = {"id": f"evt_{uuid.uuid4().hex}", "object": "event", "created": int(time.time()), **fields}
    body = json.dumps(event).encode()
    signature = sign_stripe_payload(body, secret=TEST_ENV["BILLING_STRIPE_WEBHOOK_SECRET"])
    headers = {"Stripe-Signature": signature, "content-type": "application/json"}
    return await call_service(fleet, "billing", "POST", "/v1/webhooks/stripe", content=body, headers=headers)


async def test_a_signed_auth_delivery_with_an_updated_at_past_a_bigint_is_malformed(services: Fleet) -> None:
    user_id = new_user_id()
    payload = clerk_user_created(user_id=user_id, email=f"{user_id}@example.com", first_name="Ada")
    payload["data"]["updated_at"] = 2**70
    body, headers = signed_delivery(payload, secret=TEST_AUTH_SECRET)

    answer = await post_auth_webhook(services, body, headers)

    assert error_of(answer) == (400, "malformed_payload")
    assert (await read_claims(services, user_id))["status"] == 404


async def test_a_signed_stripe_event_created_past_a_bigint_is_malformed(services: Fleet) -> None:
    answer = await post_stripe_event(
        services, type="invoice.paid", created=2**70, data={"object": {"id": "in_x", "object": "invoice"}}
    )

    assert error_of(answer) == (400, "malformed_payload")


async def test_a_signed_stripe_event_whose_metadata_is_not_an_object_is_malformed(services: Fleet) -> None:
    obj = {"id": "sub_x", "object": "subscription", "metadata": ["org_id"]}

    answer = await post_stripe_event(services, type="customer.subscription.updated", data={"object": obj})

    assert error_of(answer) == (400, "malformed_payload")


async def test_a_signed_subscription_event_whose_period_end_is_no_time_changes_nothing(
    services: Fleet,
) -> None:
    _, claims = await sign_up(services)  # complete claims: billing has the org, on its free plan
    org = claims["org_id"]
    subscription = {
        "id": f"sub_{uuid.uuid4().hex[:14]}",
        "object": "subscription",
        "customer": "cus_fuzz",
        "status": "active",
        "current_period_end": 2**70,
        "metadata": {"org_id": org},
        "items": {"object": "list", "data": [{"price": {"id": "price_individual_pro_month"}}]},
    }

    answer = await post_stripe_event(
        services, type="customer.subscription.updated", data={"object": subscription}
    )
    entitlements = await call_service(
        services, "billing", "GET", f"/v1/orgs/{org}/entitlements", headers=SERVICE_KEY
    )

    assert error_of(answer) == (400, "malformed_payload")
    assert entitlements.json()["plan"] == "individual_free"


async def test_an_auth_delivery_that_is_not_utf8_is_an_invalid_signature(services: Fleet) -> None:
    _, headers = signup_delivery(user_id=new_user_id())

    answer = await post_auth_webhook(services, b'{"type": "user.created", "data": "\xfe\xff"}', headers)

    assert error_of(answer) == (401, "invalid_signature")


async def post_signed_skool_delivery(services: Fleet, delivery: dict[str, str]) -> httpx.Response:
    """A Skool delivery signed with the test secret, as the automation sends it."""
    body = json.dumps(delivery).encode()
    stamp = int(time.time())
    secret = TEST_ENV["SKOOL_INGEST_WEBHOOK_SECRET"].encode()
    digest = hmac.new(secret, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {"Skool-Signature": f"t={stamp},v1={digest}", "content-type": "application/json"}
    return await call_service(
        services, "skool-ingest", "POST", "/v1/webhooks/skool", content=body, headers=headers
    )


async def test_a_skool_delivery_for_an_address_with_a_control_character_is_refused(services: Fleet) -> None:
    delivery = {
        "event": "member.subscribed",
        "email": "sam\x1c@example.com",
        "community_id": "fuzz-club",
        "occurred_at": "2026-11-01T09:00:00Z",
    }
    answer = await post_signed_skool_delivery(services, delivery)

    assert error_of(answer) == (422, "validation_error")


@pytest.mark.parametrize(
    "times",
    [
        {"occurred_at": "0001-01-01T00:00:00+01:00"},  # an hour before the first moment in UTC
        {"occurred_at": "2026-11-01T09:00:00Z", "period_end": "9999-12-31T23:59:59-01:00"},  # past the last
    ],
)
async def test_a_skool_delivery_time_no_utc_datetime_can_hold_is_a_422(
    services: Fleet, times: dict[str, str]
) -> None:
    """Found by the fuzzing (seed 301363108244, 150 examples): a signed delivery whose time with its
    offset lies outside what a datetime holds in UTC made the validator's conversion raise
    OverflowError, a 500 (the automation retries a 5xx)."""
    delivery = {
        "event": "member.subscribed",
        "email": "sam@example.com",
        "community_id": "fuzz-club",
        **times,
    }
    answer = await post_signed_skool_delivery(services, delivery)

    assert error_of(answer) == (422, "validation_error")
