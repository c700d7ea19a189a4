"""The AsyncAPI documents (docs/asyncapi/): committed = generated from the code, valid AsyncAPI 3.0
in shape, and consistent across services (what one consumes, another publishes)."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator

from devstack.asyncapi import (
    DOCS_DIR,
    document_path,
    render,
    service_apps,
    service_documents,
    write_documents,
)
from devstack.services import SERVICES
from shared.events.asyncapi import build_asyncapi
from shared.events.envelope import EventData, new_envelope
from shared.events.registry import event_schemas, schemas_on
from shared.events.schemas.identity import UserCreated
from shared.events.topics import ALL_TOPICS, IDENTITY_USERS, WORKSPACE_ORGS, topic_for, topics_published_by
from workspace.app import create_app as workspace_app

REPO = Path(__file__).resolve().parents[1]
REGENERATE = "run `make asyncapi` (python -m devstack.asyncapi) and commit docs/asyncapi/"
# AsyncAPI 3.0: the keys of channels, operations and components.
ID = re.compile(r"^[a-zA-Z0-9.\-_]+$")


@cache
def documents() -> dict[str, dict[str, Any]]:
    return service_documents()


@pytest.mark.parametrize("service", [spec.name for spec in SERVICES])
def test_the_committed_document_is_what_the_code_declares(service: str) -> None:
    path = document_path(service)
    assert path.exists(), f"{path.relative_to(REPO)} is missing: {REGENERATE}"
    assert path.read_text() == render(documents()[service]), (
        f"{path.relative_to(REPO)} has drifted from the code: {REGENERATE}"
    )


def test_no_stray_document_is_committed() -> None:
    committed = {path.name for path in DOCS_DIR.glob("*.json")}
    assert committed == {f"{spec.name}.json" for spec in SERVICES}, REGENERATE


def test_the_drift_check_sees_a_changed_document(tmp_path: Path) -> None:
    """The command writes what the test compares with; a hand edit is then a difference."""
    assert {path.name for path in write_documents(tmp_path)} == {f"{spec.name}.json" for spec in SERVICES}
    assert write_documents(tmp_path) == []  # a second run changes nothing: the output is stable
    path = document_path("billing", tmp_path)
    edited = json.loads(path.read_text())
    edited["channels"].pop("billing.subscriptions")
    path.write_text(render(edited))
    assert path.read_text() != render(documents()["billing"])
    assert write_documents(tmp_path) == [path]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"only local references are expected, got {ref}"
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return _resolve(document, node["$ref"]) if isinstance(node, dict) and "$ref" in node else node


@pytest.mark.parametrize("service", [spec.name for spec in SERVICES])
def test_the_document_has_the_shape_of_asyncapi_3(service: str) -> None:
    document = documents()[service]

    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"] == service and document["info"]["version"]
    for server in document["servers"].values():
        assert server["protocol"] == "kafka" and server["host"]
        for variable in re.findall(r"{(\w+)}", server["host"]):
            assert "default" in server["variables"][variable]
    for section in (document["channels"], document["operations"], *document["components"].values()):
        assert all(ID.match(key) for key in section), sorted(section)
    for ref in _refs(document):
        _resolve(document, ref)
    for channel in document["channels"].values():
        assert channel["address"]
        for message in channel["messages"].values():
            assert message["$ref"].startswith("#/components/messages/")
    for name, message in document["components"]["messages"].items():
        assert message["name"] == name
        assert message["headers"]["type"] == "object"
        assert set(message["headers"]["required"]) <= set(message["headers"]["properties"])
    for operation_id, operation in document["operations"].items():
        assert operation["action"] in ("send", "receive"), operation_id
        channel_ref = operation["channel"]["$ref"]
        assert channel_ref.startswith("#/channels/")
        assert operation["messages"], f"{operation_id} names no message"
        for message in operation["messages"]:
            # An operation's messages must be messages of its own channel (AsyncAPI 3.0).
            assert message["$ref"].startswith(channel_ref + "/messages/"), (operation_id, message)
        if operation["action"] == "receive":
            assert operation["bindings"]["kafka"]["groupId"] == {"type": "string", "enum": [service]}


def _operations(document: dict[str, Any], action: str) -> Iterator[tuple[str, str]]:
    """(channel address, message name) of every `action` operation of a document."""
    for operation in document["operations"].values():
        if operation["action"] == action:
            channel = _resolve(document, operation["channel"]["$ref"])
            for message in operation["messages"]:
                yield channel["address"], _resolve(document, message["$ref"])["name"]


def test_every_consumed_event_is_published_by_some_service_with_the_same_schema() -> None:
    published: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for service, document in documents().items():
        for address, name in _operations(document, "send"):
            if not address.endswith(".dlq"):
                assert (address, name) not in published, f"{name} on {address} has two publishers"
                published[(address, name)] = (service, document)

    consumed = 0
    for service, document in documents().items():
        for address, name in _operations(document, "receive"):
            consumed += 1
            assert (address, name) in published, (
                f"{service} consumes {name} from {address}; nobody publishes it"
            )
            publisher, published_document = published[(address, name)]
            for section in ("messages", "schemas"):
                theirs = published_document["components"][section]
                ours = document["components"][section]
                shared_keys = set(theirs) & set(ours)
                assert all(theirs[key] == ours[key] for key in shared_keys), (service, publisher, section)
    assert consumed >= 20  # every subscription of the five services (README's table)
    # Every topic has its publisher, and each service has its dead-letter channels.
    assert {address for address, _ in published} == set(ALL_TOPICS)


def test_each_document_receives_exactly_the_types_its_handlers_take() -> None:
    for service, app in service_apps().items():
        handled = {
            (subscription.topic, event_type)
            for subscription in app.state.runtime.subscriptions
            for event_type in subscription.handlers
        }
        document = documents()[service]

        assert set(_operations(document, "receive")) == handled, service
        dead_letters = {address for address, name in _operations(document, "send") if name == "dead_letter"}
        assert dead_letters == {f"{topic}.dlq" for topic, _ in handled}, service
        for channel in document["channels"].values():
            if not channel["address"].endswith(".dlq"):  # a channel lists every type its topic carries
                carried = {schema.event_type for schema in schemas_on(channel["address"])}
                assert set(channel["messages"]) == carried


def _constructed_event_types(package_dir: Path) -> dict[str, set[str]]:
    """Event types whose payload class a package's source calls (builds), by file."""
    by_name = {schema.__name__: event_type for event_type, schema in event_schemas().items()}
    found: dict[str, set[str]] = {}
    for path in sorted(package_dir.rglob("*.py")):
        tree = ast.parse(path.read_text())
        aliases = {
            alias.asname or alias.name: alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("shared.events.schemas")
            for alias in node.names
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in aliases:
                event_type = by_name.get(aliases[node.func.id])
                if event_type is not None:
                    found.setdefault(str(path.relative_to(REPO)), set()).add(event_type)
    return found


def test_what_a_document_says_a_service_sends_is_what_its_outbox_call_sites_build() -> None:
    """A service builds only payloads of its own topics, and builds every one its document lists
    (the outbox writes an event on `topic_for(type)`: a payload built is a payload published)."""
    for spec in SERVICES:
        package_dir = REPO / "services" / spec.name / "src" / spec.package
        built = _constructed_event_types(package_dir)
        own = set(topics_published_by(spec.name))
        for path, event_types in built.items():
            for event_type in event_types:
                assert topic_for(event_type) in own, (
                    f"{path} builds {event_type}, not on {spec.name}'s topics"
                )
        documented = {name for address, name in _operations(documents()[spec.name], "send") if address in own}
        assert documented == set().union(*built.values()), spec.name


def message_validator(document: dict[str, Any], message: str, part: str) -> Draft7Validator:
    """Validates a message's `payload` or `headers` as the document describes them (AsyncAPI's
    default schema format is a superset of JSON Schema draft 7; `$ref`s point into components)."""
    schema = document["components"]["messages"][message][part]
    return Draft7Validator({**schema, "components": document["components"]})


def envelope_of(data: EventData) -> dict[str, Any]:
    source = documents_by_topic()[topic_for(data.event_type)]
    envelope: dict[str, Any] = json.loads(
        new_envelope(source=source, subject="aggregate-1", data=data).to_bytes()
    )
    return envelope


@cache
def documents_by_topic() -> dict[str, str]:
    return {topic: spec.name for spec in SERVICES for topic in topics_published_by(spec.name)}


@pytest.mark.parametrize("event_type", list(event_schemas()))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_event_the_code_can_build_is_accepted_by_its_documented_schema(
    event_type: str, data: Any
) -> None:
    schema = event_schemas()[event_type]
    payload = data.draw(st.builds(schema))
    envelope = envelope_of(payload)
    for document in documents().values():
        if event_type in document["components"]["messages"]:
            errors = list(message_validator(document, event_type, "payload").iter_errors(envelope))
            assert not errors, [error.message for error in errors]


def test_a_documented_schema_refuses_what_the_code_would_refuse() -> None:
    document = documents()["identity"]
    validator = message_validator(document, "user.created", "payload")
    good = envelope_of(UserCreated(user_id="user_1", email="a@example.com"))

    assert validator.is_valid(good)
    assert not validator.is_valid({**good, "data": {"email": "a@example.com"}})  # no user_id
    assert not validator.is_valid({**good, "type": "user.deleted"})
    assert not validator.is_valid({key: value for key, value in good.items() if key != "subject"})


def test_the_registry_knows_every_declared_event_and_its_topic() -> None:
    schemas = event_schemas()
    assert schemas["user.created"] is UserCreated
    assert sum(len(schemas_on(topic)) for topic in ALL_TOPICS) == len(schemas)  # each on one topic
    assert all(schemas_on(topic) for topic in ALL_TOPICS)
    assert [schema.event_type for schema in schemas_on(IDENTITY_USERS)] == [
        "user.created",
        "user.deleted",
        "user.updated",
    ]


def test_a_subscription_to_an_event_its_topic_does_not_carry_is_refused() -> None:
    with pytest.raises(ValueError, match=r"consumes \['user.created'\] from workspace.orgs"):
        build_asyncapi(
            service="billing",
            version="1.0.0",
            published=[],
            consumed={WORKSPACE_ORGS: ["org.created", "user.created"]},
            group_id="billing",
        )


async def test_the_app_serves_its_document_without_auth_and_keeps_it_out_of_the_openapi_schema() -> None:
    app = workspace_app()
    # No lifespan runs: serving the document needs nothing started (the live test: tests/e2e).
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.get("/asyncapi.json")

    assert response.status_code == 200, response.text
    assert response.json() == json.loads(render(documents()["workspace"]))
    assert "/asyncapi.json" not in app.openapi()["paths"]
