"""`make asyncapi` (`python -m devstack.asyncapi`): write every service's AsyncAPI document to
docs/asyncapi/<service>.json — the same document the service serves at `GET /asyncapi.json`.

Each service's app is built (no I/O: nothing starts before its lifespan) and asked for its
document, so what is written is what the code declares. tests/test_asyncapi.py fails when the
committed files drift from it.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from devstack.paths import REPO_ROOT
from devstack.services import SERVICES
from shared.http.asyncapi import asyncapi_of

DOCS_DIR = REPO_ROOT / "docs" / "asyncapi"


def service_apps() -> dict[str, FastAPI]:
    """Each service's app, built as its process builds it (nothing started), by service name.

    Built in development whatever the shell says: only their declarations are read (topics,
    subscriptions, schemas), and a service refuses to be built without an environment."""
    previous = os.environ.get("PLATFORM_ENVIRONMENT")
    os.environ["PLATFORM_ENVIRONMENT"] = "development"
    try:
        return {spec.name: importlib.import_module(f"{spec.package}.app").create_app() for spec in SERVICES}
    finally:
        if previous is None:
            del os.environ["PLATFORM_ENVIRONMENT"]
        else:
            os.environ["PLATFORM_ENVIRONMENT"] = previous


def service_documents() -> dict[str, dict[str, Any]]:
    """Each service's AsyncAPI document, built from its code, by service name."""
    return {service: asyncapi_of(app) for service, app in service_apps().items()}


def render(document: dict[str, Any]) -> str:
    """The committed form: indent 2, keys in the generator's (sorted) order, a trailing newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def document_path(service: str, directory: Path = DOCS_DIR) -> Path:
    return directory / f"{service}.json"


def write_documents(directory: Path = DOCS_DIR) -> list[Path]:
    """Write every service's document into `directory`; return the files that changed."""
    directory.mkdir(parents=True, exist_ok=True)
    changed = []
    for service, document in service_documents().items():
        path = document_path(service, directory)
        text = render(document)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    return changed


def main() -> None:
    changed = write_documents()
    for path in changed:
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    if not changed:
        print(f"{DOCS_DIR.relative_to(REPO_ROOT)}: every document is up to date")


if __name__ == "__main__":
    main()
