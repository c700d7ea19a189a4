"""The Kafka ACLs come from the code's own declarations (the AsyncAPI documents each service
builds from what it publishes and subscribes to), not from a second list, and the committed table
in docs/security/acl-table.md is what the code derives (issue 16, "least privilege")."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.asyncapi import service_apps
from devstack.kafka_acls import (
    ACL_TABLE,
    OPERATOR_PRINCIPAL,
    TABLE_END,
    TABLE_START,
    Acl,
    acls_of_service,
    desired_acls,
    generated_files,
    render_acl_script,
    with_table,
)
from devstack.services import SERVICES
from shared.events.topics import ALL_TOPICS, PRODUCER_BY_TOPIC, dlq_topic
from shared.http.asyncapi import asyncapi_of
from shared.messaging.replay import REPLAYER_GROUP
from shared.runtime import Subscription


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    return {name: asyncapi_of(app) for name, app in service_apps().items()}


def granted(acls: list[Acl], principal: str) -> set[tuple[str, str, str]]:
    return {
        (acl.resource_type, acl.resource_name, acl.operation)
        for acl in acls
        if acl.principal == f"User:{principal}"
    }


def test_every_generated_file_is_what_the_code_derives() -> None:
    """docs/security/acl-table.md, deploy/kafka/acls.sh (compose's kafka-init) and, when it has
    the markers, docs/security.md's table."""
    assert ACL_TABLE in generated_files()
    for path, text in generated_files().items():
        assert path.read_text() == text, f"{path} drifted from the code: run `python -m devstack.kafka_acls`"


def test_the_compose_script_creates_every_topic_user_and_acl() -> None:
    acls = desired_acls()
    script = render_acl_script(acls).splitlines()

    assert "topic invites.invitations.dlq" in script
    assert 'user skool-ingest "${SKOOL_INGEST_KAFKA_PASSWORD:?}"' in script
    assert 'user operator "${OPERATOR_KAFKA_PASSWORD:?}"' in script
    assert "acl billing IdempotentWrite --cluster kafka-cluster" in script
    assert "acl billing Read --group billing" in script
    assert "acl operator Read --topic identity.users.dlq" in script
    assert len([line for line in script if line.startswith("acl ")]) == len(acls)


def test_the_table_goes_between_the_markers_of_a_document_and_nowhere_else() -> None:
    document = f"# Security\n\n{TABLE_START}\nold\n{TABLE_END}\n\nafter\n"

    assert (
        with_table(document, "| new |\n") == f"# Security\n\n{TABLE_START}\n| new |\n{TABLE_END}\n\nafter\n"
    )
    assert with_table("no markers\n", "| new |\n") == "no markers\n"


def test_every_service_may_do_exactly_what_its_declarations_say(documents: dict[str, dict[str, Any]]) -> None:
    acls = desired_acls(documents)
    for spec in SERVICES:
        document = documents[spec.name]
        received = {
            op["channel"]["$ref"].split("/")[-1]
            for op in document["operations"].values()
            if op["action"] == "receive"
        }
        sent = {
            op["channel"]["$ref"].split("/")[-1]
            for op in document["operations"].values()
            if op["action"] == "send"
        }
        own = {topic for topic, producer in PRODUCER_BY_TOPIC.items() if producer == spec.name}
        assert sent == own | {dlq_topic(topic) for topic in received}, spec.name
        expected = (
            {("TOPIC", topic, operation) for topic in sent for operation in ("WRITE", "DESCRIBE")}
            | {("TOPIC", topic, operation) for topic in received for operation in ("READ", "DESCRIBE")}
            | {("GROUP", spec.name, "READ")}
            | {("CLUSTER", "kafka-cluster", "IDEMPOTENT_WRITE")}
        )
        assert granted(acls, spec.name) == expected, spec.name


def test_every_declared_topic_is_covered_and_only_allow_rules_exist(
    documents: dict[str, dict[str, Any]],
) -> None:
    acls = desired_acls(documents)
    for topic in ALL_TOPICS:
        writers = {acl.principal for acl in acls if acl.resource_name == topic and acl.operation == "WRITE"}
        assert writers == {f"User:{PRODUCER_BY_TOPIC[topic]}", f"User:{OPERATOR_PRINCIPAL}"}, topic
        assert any(acl.resource_name == dlq_topic(topic) and acl.operation == "READ" for acl in acls), topic
    assert {acl.permission for acl in acls} == {"ALLOW"}
    assert {acl.pattern for acl in acls} == {"LITERAL"}  # no prefix or wildcard grants anything
    assert not any(acl.resource_name == "*" for acl in acls)


def test_no_service_may_use_another_service_s_group(documents: dict[str, dict[str, Any]]) -> None:
    acls = desired_acls(documents)
    for spec in SERVICES:
        assert {name for kind, name, _ in granted(acls, spec.name) if kind == "GROUP"} <= {spec.name}


def test_the_operator_reads_dead_letters_replays_and_describes_but_joins_no_service_group(
    documents: dict[str, dict[str, Any]],
) -> None:
    operator = granted(desired_acls(documents), OPERATOR_PRINCIPAL)
    for topic in ALL_TOPICS:
        assert ("TOPIC", dlq_topic(topic), "READ") in operator
        assert ("TOPIC", topic, "WRITE") in operator  # replay puts a record back where it was
        assert ("TOPIC", topic, "READ") not in operator
    assert ("GROUP", REPLAYER_GROUP, "READ") in operator
    assert {(kind, name, op) for kind, name, op in operator if kind == "GROUP" and op == "READ"} == {
        ("GROUP", REPLAYER_GROUP, "READ")
    }


def test_a_consumer_added_in_code_changes_the_derived_acls() -> None:
    """No second list: a subscription billing gains in its code is an ACL billing gains."""
    apps = service_apps()
    runtime = apps["billing"].state.runtime
    before = desired_acls({name: asyncapi_of(app) for name, app in apps.items()})
    added = Subscription(topic="invites.invitations", handlers={"invitation.accepted": _unused_handler})
    runtime.subscriptions = [*runtime.subscriptions, added]

    after = desired_acls({name: asyncapi_of(app) for name, app in apps.items()})

    gained = set(after) - set(before)
    assert granted(list(gained), "billing") == {
        ("TOPIC", "invites.invitations", "READ"),
        ("TOPIC", "invites.invitations", "DESCRIBE"),
        ("TOPIC", "invites.invitations.dlq", "WRITE"),
        ("TOPIC", "invites.invitations.dlq", "DESCRIBE"),
    }
    assert set(before) - set(after) == set()


def test_a_declared_receive_without_a_group_is_refused_not_guessed() -> None:
    document = {
        "channels": {"t": {"address": "t"}},
        "operations": {"receive-t": {"action": "receive", "channel": {"$ref": "#/channels/t"}}},
    }
    with pytest.raises(KeyError):
        acls_of_service("demo", document)


async def _unused_handler(*_: object) -> None:
    raise AssertionError("never run: only the declaration is read")
