"""Every operation that takes a body documents the 413 `payload_too_large` of the shared body
limit (shared/http/body_limit.py), with the error body (API.md, "Hostile input")."""

from __future__ import annotations

from collections.abc import Callable

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


@pytest.mark.parametrize("service", APPS)
def test_every_post_put_and_patch_documents_payload_too_large(service: str) -> None:
    spec = APPS[service]().openapi()
    operations = [
        (method, path, operation)
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
        if method in ("post", "put", "patch")
    ]

    assert operations
    for method, path, operation in operations:
        documented = operation["responses"].get("413")
        assert documented is not None, f"{service} {method.upper()} {path} does not document 413"
        assert "`payload_too_large`" in documented["description"]
        assert documented["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorBody"
        }
    assert "ErrorBody" in spec["components"]["schemas"]
