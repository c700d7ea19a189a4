"""Every public route documents its error responses in the OpenAPI schema (the error model)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
