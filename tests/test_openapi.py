"""Every public route documents its error responses in the OpenAPI schema (the error model)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI

from billing.app import create_app as billing_app
from identity.app import create_app as identity_app
from invites.app import create_app as invites_app
from skool_ingest.app import create_app as skool_ingest_app
from workspace.app import create_app as workspace_app

APPS: dict[str, Callable[[], FastAPI]] = {
    "identity": identity_app,
    "workspace": workspace_app,
    "billing": billing_app,
    "invites": invites_app,
    "skool-ingest": skool_ingest_app,
}


@pytest.fixture(scope="module")
def specs() -> dict[str, dict[str, Any]]:
    """Each service's OpenAPI schema, built once for the module."""
    return {service: app().openapi() for service, app in APPS.items()}


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, methods in spec["paths"].items()
        if path.startswith("/v1/")
        for method, operation in methods.items()
    ]


def test_every_v1_route_documents_its_errors_with_the_error_body() -> None:
    operations = [
        (service, method, path, operation)
        for service, app in APPS.items()
        for method, path, operation in _operations(app().openapi())
    ]

    assert len(operations) >= 3  # grows as the services get their routes
    for service, method, path, operation in operations:
        responses = operation["responses"]
        for status in ("422", "503"):
            assert status in responses, f"{service} {method} {path} does not document {status}"
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (service, path, status)


def test_the_webhook_and_claims_routes_name_their_error_codes() -> None:
    paths = identity_app().openapi()["paths"]

    webhook = paths["/v1/webhooks/auth"]["post"]["responses"]
    assert "invalid_signature" in webhook["401"]["description"]
    assert "malformed_payload" in webhook["400"]["description"]
    claims = paths["/v1/users/{user_id}/claims"]["get"]["responses"]
    assert "invalid_service_key" in claims["401"]["description"]
    assert "user_not_found" in claims["404"]["description"]


# --- API.md, route by route --------------------------------------------------------------------
# What API.md (the public API contract) documents for each route: every status it names
# (success, redirect and no-content ones too) with the error codes it names for that status (an
# empty set: a status with no code named). Taken from API.md by hand, not parsed: its tables mix
# prose ("404/410 as above", "malformed 400") with the codes. The 401 of each kind of
# authentication, an org's 404 and a role's 403 come from its "Authentication" section. One
# deviation: API.md's row for `/reserve` and `/release` names 402 `quota_exceeded` for both;
# giving a scenario back can never exceed a quota, so only `/reserve` documents it.
Answers = dict[int, set[str]]


def _answers(*parts: Answers) -> Answers:
    merged: Answers = {}
    for part in parts:
        for status, codes in part.items():
            merged.setdefault(status, set()).update(codes)
    return merged


BEARER: Answers = {401: {"invalid_token"}}
SERVICE_KEY: Answers = {401: {"invalid_service_key"}}
BEARER_OR_SERVICE_KEY: Answers = {401: {"invalid_token", "invalid_service_key"}}
ORG: Answers = {404: {"org_not_found"}}
ROLE: Answers = {403: {"forbidden"}}
MANAGE: Answers = _answers(BEARER, ORG, ROLE)
LINK_UNUSABLE: Answers = {
    404: {"invitation_not_found"},
    410: {"invitation_expired", "invitation_revoked", "invitation_exhausted"},
}
QUOTA: Answers = {402: {"quota_exceeded"}}

API_MD: dict[str, dict[tuple[str, str], Answers]] = {
    "identity": {
        ("POST", "/v1/webhooks/auth"): {200: set(), 400: set(), 401: {"invalid_signature"}},
        ("GET", "/v1/users/{user_id}/claims"): _answers({200: set()}, SERVICE_KEY),
        ("POST", "/v1/tokens"): _answers(
            {200: set(), 404: {"user_not_found"}, 403: {"not_a_member"}, 409: {"not_provisioned"}},
            SERVICE_KEY,
        ),
        ("GET", "/.well-known/jwks.json"): {200: set()},
    },
    "workspace": {
        ("POST", "/v1/orgs"): _answers({201: set(), 409: {"slug_taken"}, 422: set()}, BEARER),
        ("GET", "/v1/orgs/{org_id}"): _answers({200: set()}, BEARER, ORG),
        ("GET", "/v1/orgs/{org_id}/members"): _answers({200: set()}, BEARER, ORG),
        ("PATCH", "/v1/orgs/{org_id}/members/{user_id}"): _answers(
            {200: set(), 409: {"last_admin"}}, BEARER, ORG, ROLE
        ),
        ("DELETE", "/v1/orgs/{org_id}/members/{user_id}"): _answers(
            {204: set(), 409: {"last_admin"}}, BEARER, ORG, ROLE
        ),
        ("POST", "/v1/orgs/{org_id}/convert"): _answers(
            {200: set(), 409: {"not_personal"}, 422: {"plan_kind_mismatch"}}, BEARER, ORG, ROLE
        ),
        ("GET", "/v1/me/context"): _answers({200: set()}, BEARER, ORG),
        ("GET", "/v1/me/workspaces"): _answers({200: set()}, BEARER),
    },
    "billing": {
        ("GET", "/v1/plans"): {200: set()},
        ("POST", "/v1/orgs/{org_id}/checkout"): _answers(
            {
                200: set(),
                422: {"plan_kind_mismatch", "plan_not_purchasable"},
                409: {"already_on_plan"},
            },
            BEARER,
            ORG,
            ROLE,
        ),
        ("POST", "/v1/orgs/{org_id}/portal"): _answers({200: set()}, BEARER, ORG),
        ("POST", "/v1/webhooks/stripe"): {200: set(), 400: {"invalid_signature"}},
        ("GET", "/v1/orgs/{org_id}/entitlements"): _answers({200: set()}, BEARER_OR_SERVICE_KEY, ORG),
        ("POST", "/v1/orgs/{org_id}/meters/sessions/consume"): _answers(
            {200: set()}, BEARER_OR_SERVICE_KEY, ORG, QUOTA
        ),
        ("POST", "/v1/orgs/{org_id}/meters/scenarios/reserve"): _answers(
            {200: set()}, BEARER_OR_SERVICE_KEY, ORG, QUOTA
        ),
        ("POST", "/v1/orgs/{org_id}/meters/scenarios/release"): _answers(
            {200: set(), 404: {"reservation_not_found"}}, BEARER_OR_SERVICE_KEY, ORG
        ),
    },
    "invites": {
        ("POST", "/v1/orgs/{org_id}/invitation-links"): _answers(
            {201: set(), 403: {"personal_org"}, 409: {"seat_limit_reached"}}, MANAGE
        ),
        ("GET", "/v1/orgs/{org_id}/invitation-links"): _answers({200: set()}, MANAGE),
        ("DELETE", "/v1/orgs/{org_id}/invitation-links/{slug}"): _answers({204: set()}, MANAGE),
        ("GET", "/v1/invitation-links/{slug}"): _answers({200: set()}, LINK_UNUSABLE),
        ("GET", "/invite/{slug}"): _answers({302: set()}, LINK_UNUSABLE),
        ("POST", "/v1/invitation-links/{slug}/redeem"): _answers(
            {200: set(), 409: {"already_member", "seat_limit_reached"}}, BEARER, LINK_UNUSABLE
        ),
        ("POST", "/v1/orgs/{org_id}/invitations"): _answers(
            {201: set(), 409: {"already_invited", "already_member", "seat_limit_reached"}}, MANAGE
        ),
        ("GET", "/v1/orgs/{org_id}/invitations"): _answers({200: set()}, MANAGE),
        ("DELETE", "/v1/orgs/{org_id}/invitations/{invitation_id}"): _answers({204: set()}, MANAGE),
        ("POST", "/v1/orgs/{org_id}/invitations/{invitation_id}/resend"): _answers({200: set()}, MANAGE),
        ("POST", "/v1/invitations/{token}/accept"): _answers(
            {
                200: set(),
                403: {"email_mismatch"},
                410: {"invitation_expired", "invitation_revoked", "invitation_used"},
            },
            BEARER,
        ),
    },
    "skool-ingest": {
        ("POST", "/v1/webhooks/skool"): {
            202: set(),
            401: {"invalid_signature"},
            422: {"validation_error", "unknown_event"},
        },
    },
}


def _documented_routes() -> list[tuple[str, str, str, Answers]]:
    return [
        (service, method, path, answers)
        for service, routes in API_MD.items()
        for (method, path), answers in routes.items()
    ]


def test_the_api_md_mapping_covers_every_route_of_api_md() -> None:
    # API.md's tables list 32 routes (invites' list/revoke/resend row is three); a route added
    # there needs its line here.
    assert len(_documented_routes()) == 32
    assert set(API_MD) == set(APPS)


@pytest.mark.parametrize(
    ("service", "method", "path", "answers"),
    _documented_routes(),
    ids=[f"{service} {method} {path}" for service, method, path, _ in _documented_routes()],
)
def test_every_status_and_error_code_of_api_md_is_in_the_openapi_schema(
    service: str, method: str, path: str, answers: Answers, specs: dict[str, dict[str, Any]]
) -> None:
    operation = specs[service]["paths"].get(path, {}).get(method.lower())
    assert operation is not None, f"{service} has no {method} {path} in its OpenAPI schema"
    responses = operation["responses"]
    for status, codes in answers.items():
        response = responses.get(str(status))
        assert response is not None, f"{method} {path} does not document {status}"
        if status >= 400:
            assert response["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorBody"
            }
            missing = {code for code in codes if f"`{code}`" not in response["description"]}
            assert not missing, f"{method} {path} {status} does not name {sorted(missing)}"
        elif status in (204, 302):
            assert "content" not in response, f"{method} {path} {status} has no body"
        else:
            assert "application/json" in response["content"], f"{method} {path} {status} is JSON"
    if 302 in answers:
        assert "Location" in responses["302"]["headers"]
