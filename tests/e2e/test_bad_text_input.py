"""What the API fuzzing found (tests/e2e/test_api_fuzzing.py), pinned: text PostgreSQL cannot
store, a body that is not UTF-8, and control characters bound for an email header are a clear 4xx,
never a 500, and nothing is written."""

from __future__ import annotations

import uuid

import httpx

from devstack.pytest_plugin import TEST_SERVICE_KEY
from devstack.services import Fleet
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
from invites.mailer import InvitationEmail, compose
from invites.settings import InvitesSettings

SERVICE_KEY = {"X-Service-Key": TEST_SERVICE_KEY}


def error_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


async def test_a_nul_in_a_field_or_a_path_is_a_422_not_a_500(services: Fleet) -> None:
    token = await call_service(
        services, "identity", "POST", "/v1/tokens", json={"user_id": "a\x00"}, headers=SERVICE_KEY
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
