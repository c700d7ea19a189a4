"""The AsyncAPI documents on the live platform: every running service serves its committed
document, and the events it really publishes (its outbox rows, sent as they are) fit it."""

from __future__ import annotations

import json
from typing import Any

import httpx
from jsonschema import Draft7Validator

from devstack.asyncapi import document_path
from devstack.platform import Platform
from devstack.services import SERVICES, Fleet
from devstack.testing import fetch, service_db, sign_up


def committed(service: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(document_path(service).read_text())
    return document


def sent_messages(document: dict[str, Any]) -> set[tuple[str, str]]:
    """(topic, event type) of every event a document says its service publishes."""
    return {
        (operation["channel"]["$ref"].removeprefix("#/channels/"), message["$ref"].rsplit("/", 1)[1])
        for operation in document["operations"].values()
        if operation["action"] == "send"
        for message in operation["messages"]
    }


def validator(document: dict[str, Any], message: str, part: str) -> Draft7Validator:
    schema = document["components"]["messages"][message][part]
    return Draft7Validator({**schema, "components": document["components"]})


async def test_every_replica_serves_its_committed_document_without_auth(services: Fleet) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for spec in SERVICES:
            for replica in services.replicas[spec.name]:
                response = await client.get(f"{replica.own_url}/asyncapi.json")

                assert response.status_code == 200, (replica.name, response.text)
                assert response.headers["content-type"] == "application/json"
                assert response.json() == committed(spec.name), f"{replica.name} serves another document"


async def test_a_signups_events_as_published_fit_their_documented_headers_and_payload(
    services: Fleet, platform: Platform
) -> None:
    user_id, claims = await sign_up(services)
    keys = {"identity": user_id, "workspace": claims["org_id"], "billing": claims["org_id"]}

    checked = set()
    for service, key in keys.items():
        document = committed(service)
        rows = await fetch(
            service_db(platform, service),
            "SELECT topic, event_type, value, headers FROM outbox WHERE key = $1 ORDER BY position",
            key,
        )
        for row in rows:
            assert (row["topic"], row["event_type"]) in sent_messages(document), (service, row["event_type"])
            for part, value in (
                ("payload", json.loads(row["value"])),
                ("headers", json.loads(row["headers"])),
            ):
                errors = [
                    error.message for error in validator(document, row["event_type"], part).iter_errors(value)
                ]
                assert not errors, (service, row["event_type"], part, errors)
            checked.add(row["event_type"])
    assert {"user.created", "org.created", "membership.added", "subscription.changed"} <= checked


async def test_everything_a_service_ever_published_is_in_its_document(
    services: Fleet, platform: Platform
) -> None:
    """Over every event of this test run so far (each service's whole outbox)."""
    await sign_up(services)  # at least a signup's events, when this test runs alone
    published = 0
    for spec in SERVICES:
        rows = await fetch(service_db(platform, spec.name), "SELECT DISTINCT topic, event_type FROM outbox")
        published += len(rows)
        undocumented = {(row["topic"], row["event_type"]) for row in rows} - sent_messages(
            committed(spec.name)
        )
        assert not undocumented, (
            f"{spec.name} published {sorted(undocumented)}, which its document does not list"
        )
    assert published >= 4
