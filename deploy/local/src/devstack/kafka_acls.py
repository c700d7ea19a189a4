"""Least privilege on the bus: the ACLs every principal gets, derived from the code's declarations.

Each service's ACLs come from its AsyncAPI document (devstack.asyncapi.service_documents(), built
by shared.events.asyncapi.build_asyncapi from what the service publishes and subscribes to): the
same source as docs/asyncapi/, never a second list kept by hand. A service (Kafka username = its
name) may

- WRITE (and DESCRIBE) the topics it sends to: its own topic, and the `.dlq` of each topic it
  consumes (its dead letters);
- READ (and DESCRIBE) the topics it receives;
- READ its own consumer group (the group its receive operations name), no other;
- IDEMPOTENT_WRITE on the cluster (its producers are idempotent).

The `operator` principal is what devstack's operator tools need (`dlq list|replay`, `status`,
`trace`; declared in `operator_acls` below). Everything else is refused: the broker runs with
`allow.everyone.if.no.acl.found=false`, and only `admin` (and the broker itself) are super users.

`apply_kafka_security` makes a broker match: SCRAM credentials upserted, ACLs created or deleted
until the broker holds exactly `desired_acls()`. aiokafka has no ACL or SCRAM admin API, so this
module speaks confluent-kafka's AdminClient. `render_acl_table()` is the table docs/security.md
shows (docs/security/acl-table.md; a test fails when it drifts from the code).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, cast

from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialUpsertion,
)

from devstack.paths import REPO_ROOT
from shared.events.topics import dlq_topic
from shared.messaging.kafka_connection import KafkaConnection
from shared.messaging.replay import REPLAYER_GROUP

OPERATOR_PRINCIPAL = "operator"
CLUSTER = "kafka-cluster"  # the one name of Kafka's CLUSTER resource
SCRAM_ITERATIONS = 8192
ACL_TABLE = REPO_ROOT / "docs" / "security" / "acl-table.md"
# compose's `kafka-init` sources it (deploy/kafka/init.sh defines `topic`, `user` and `acl`).
ACL_SCRIPT = REPO_ROOT / "deploy" / "kafka" / "acls.sh"
# docs/security.md holds the table between these two lines (filled in when they are there).
SECURITY_DOC = REPO_ROOT / "docs" / "security.md"
TABLE_START, TABLE_END = "<!-- acl-table:start -->", "<!-- acl-table:end -->"
# kafka-acls.sh's names for the operations and resources.
_CLI_OPERATIONS = {
    "READ": "Read",
    "WRITE": "Write",
    "DESCRIBE": "Describe",
    "IDEMPOTENT_WRITE": "IdempotentWrite",
}
_CLI_RESOURCES = {"TOPIC": "--topic", "GROUP": "--group", "CLUSTER": "--cluster"}
_TIMEOUT = 30.0


@dataclass(frozen=True, order=True)
class Acl:
    """One ALLOW (or DENY) rule: `principal` may `operation` on the resource (host: any)."""

    principal: str  # "User:billing"
    resource_type: str  # TOPIC | GROUP | CLUSTER
    resource_name: str
    pattern: str  # LITERAL (the only one the platform uses)
    operation: str  # READ | WRITE | DESCRIBE | IDEMPOTENT_WRITE
    permission: str = "ALLOW"


def user(name: str) -> str:
    return f"User:{name}"


def _allow(principal: str, resource_type: str, name: str, *operations: str) -> list[Acl]:
    return [Acl(user(principal), resource_type, name, "LITERAL", operation) for operation in operations]


def acls_of_service(service: str, document: Mapping[str, Any]) -> list[Acl]:
    """What `service` may do, read off its AsyncAPI document's operations."""
    found: list[Acl] = _allow(service, "CLUSTER", CLUSTER, "IDEMPOTENT_WRITE")
    for operation in document.get("operations", {}).values():
        topic = _channel_address(document, operation)
        if operation["action"] == "send":
            found += _allow(service, "TOPIC", topic, "WRITE", "DESCRIBE")
        elif operation["action"] == "receive":
            found += _allow(service, "TOPIC", topic, "READ", "DESCRIBE")
            for group in operation["bindings"]["kafka"]["groupId"]["enum"]:
                found += _allow(service, "GROUP", group, "READ")
        else:
            raise ValueError(f"{service}: unknown AsyncAPI action {operation['action']!r}")
    return found


def _channel_address(document: Mapping[str, Any], operation: Mapping[str, Any]) -> str:
    channel = operation["channel"]["$ref"].removeprefix("#/channels/")
    return str(document["channels"][channel]["address"])


def operator_acls(documents: Mapping[str, Mapping[str, Any]]) -> list[Acl]:
    """What the operator tools need, on the topics and groups the services declare:

    - `dlq list` reads every `.dlq` (no group) and the replayer group's committed offsets;
    - `dlq replay` reads a `.dlq` as group `dlq-replayer` (shared.messaging.replay.REPLAYER_GROUP)
      and writes the records back to their original topic with an idempotent producer;
    - `status` and `trace` read end offsets (DESCRIBE on topics) and each service group's
      committed offsets (DESCRIBE on groups).
    Writing back to the original topics makes the operator as strong as every producer: its
    password is an operator secret like PLATFORM_OPERATOR_KEY."""
    topics: set[str] = set()
    dead_letter_topics: set[str] = set()
    groups: set[str] = set()
    for service, document in documents.items():
        for acl in acls_of_service(service, document):
            if acl.resource_type == "GROUP":
                groups.add(acl.resource_name)
            elif acl.resource_type == "TOPIC":
                is_dlq = acl.resource_name.endswith(".dlq")
                (dead_letter_topics if is_dlq else topics).add(acl.resource_name)
    dead_letter_topics |= {dlq_topic(topic) for topic in topics}
    found = _allow(OPERATOR_PRINCIPAL, "CLUSTER", CLUSTER, "IDEMPOTENT_WRITE")
    for topic in sorted(topics):
        found += _allow(OPERATOR_PRINCIPAL, "TOPIC", topic, "WRITE", "DESCRIBE")
    for topic in sorted(dead_letter_topics):
        found += _allow(OPERATOR_PRINCIPAL, "TOPIC", topic, "READ", "DESCRIBE")
    for group in sorted(groups):
        found += _allow(OPERATOR_PRINCIPAL, "GROUP", group, "DESCRIBE")
    found += _allow(OPERATOR_PRINCIPAL, "GROUP", REPLAYER_GROUP, "READ")
    return found


def desired_acls(documents: Mapping[str, Mapping[str, Any]] | None = None) -> list[Acl]:
    """Every ACL the platform's broker holds: each service's and the operator's, sorted."""
    if documents is None:
        from devstack.asyncapi import service_documents  # builds every service's app

        documents = service_documents()
    found: set[Acl] = set()
    for service, document in documents.items():
        found.update(acls_of_service(service, document))
    found.update(operator_acls(documents))
    return sorted(found)


def principals(acls: Iterable[Acl]) -> list[str]:
    """The Kafka usernames `acls` name (`billing`, `operator`, ...), sorted."""
    return sorted({acl.principal.removeprefix("User:") for acl in acls})


def render_acl_table(acls: Sequence[Acl] | None = None) -> str:
    """The ACLs as a Markdown table, one row per principal and resource (docs/security.md)."""
    acls = desired_acls() if acls is None else acls
    rows: dict[tuple[str, str, str], list[str]] = {}
    for acl in sorted(acls):
        rows.setdefault((acl.principal, acl.resource_type, acl.resource_name), []).append(
            acl.operation if acl.permission == "ALLOW" else f"DENY {acl.operation}"
        )
    lines = [
        "<!-- generated by `python -m devstack.kafka_acls` from the services' declarations; "
        "deploy/local/tests/test_kafka_acls.py fails when it drifts -->",
        "",
        "| principal | resource | name | operations (allowed) |",
        "|---|---|---|---|",
    ]
    for (principal, resource_type, name), operations in rows.items():
        lines.append(f"| `{principal}` | {resource_type.lower()} | `{name}` | {', '.join(operations)} |")
    lines.append("")
    lines.append(
        "Every other request is refused (`allow.everyone.if.no.acl.found=false`); `User:admin` and "
        "the broker's own certificate (`User:CN=kafka-broker`) are the only super users."
    )
    return "\n".join(lines) + "\n"


def render_acl_script(acls: Sequence[Acl] | None = None) -> str:
    """deploy/kafka/acls.sh: the topics, users and ACLs for compose's `kafka-init`, as calls of
    init.sh's `topic NAME`, `user NAME PASSWORD` and `acl PRINCIPAL OPERATION OPTION NAME [PATTERN]`;
    each password is the variable the principal's clients read (`<PREFIX>_KAFKA_PASSWORD`)."""
    acls = desired_acls() if acls is None else acls
    topics = sorted({acl.resource_name for acl in acls if acl.resource_type == "TOPIC"})
    lines = [
        "# Generated by `python -m devstack.kafka_acls` from the services' declarations: do not edit",
        "# (deploy/local/tests/test_kafka_acls.py fails when it drifts). Sourced by init.sh.",
        *(f"topic {topic}" for topic in topics),
        *(f'user {name} "${{{password_variable(name)}:?}}"' for name in principals(acls)),
    ]
    for acl in sorted(acls):
        if acl.permission != "ALLOW":
            raise ValueError(f"init.sh's acl() only allows: {acl}")
        name = acl.principal.removeprefix("User:")
        pattern = "" if acl.pattern == "LITERAL" else f" {acl.pattern.lower()}"
        operation, option = _CLI_OPERATIONS[acl.operation], _CLI_RESOURCES[acl.resource_type]
        lines.append(f"acl {name} {operation} {option} {acl.resource_name}{pattern}")
    return "\n".join(lines) + "\n"


def password_variable(principal: str) -> str:
    """Where a principal's Kafka password lives: `BILLING_KAFKA_PASSWORD`, `OPERATOR_KAFKA_PASSWORD`."""
    return f"{principal.upper().replace('-', '_')}_KAFKA_PASSWORD"


def with_table(document: str, table: str) -> str:
    """`document` with `table` between its acl-table markers (unchanged when it has none)."""
    if TABLE_START not in document or TABLE_END not in document:
        return document
    head, rest = document.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    return f"{head}{TABLE_START}\n{table}{TABLE_END}{tail}"


# --- applying them to a broker ----------------------------------------------------


def confluent_config(connection: KafkaConnection) -> dict[str, str | int | float | bool]:
    """The librdkafka settings for `connection` (hostname verification is on by default)."""
    config: dict[str, str | int | float | bool] = {
        "bootstrap.servers": connection.bootstrap_servers,
        "security.protocol": connection.security_protocol,
    }
    if connection.uses_tls and connection.ssl_cafile:
        config["ssl.ca.location"] = connection.ssl_cafile
    if connection.uses_sasl:
        config["sasl.mechanism"] = str(connection.mechanism)
        config["sasl.username"] = str(connection.username)
        config["sasl.password"] = str(connection.password)
    return config


def apply_kafka_security(
    admin: KafkaConnection, passwords: Mapping[str, str], acls: Sequence[Acl] | None = None
) -> None:
    """Upsert the SCRAM-SHA-512 credential of every principal in `passwords`, then make the
    broker's ACLs exactly `acls` (default `desired_acls()`): create the missing, delete the rest."""
    client = AdminClient(confluent_config(admin))
    if passwords:
        upserts: list[UserScramCredentialAlteration] = [
            UserScramCredentialUpsertion(
                name,
                ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS),
                password.encode(),
            )
            for name, password in sorted(passwords.items())
        ]
        for future in client.alter_user_scram_credentials(upserts, request_timeout=_TIMEOUT).values():
            future.result()
    wanted = set(desired_acls() if acls is None else acls)
    held = _held(client)
    missing = sorted(wanted - {acl for acl, binding in held if binding.host == "*"})
    extra = [binding for acl, binding in held if acl not in wanted or binding.host != "*"]
    if missing:
        for future in client.create_acls(
            [_binding(acl) for acl in missing], request_timeout=_TIMEOUT
        ).values():
            future.result()
    if extra:
        filters = [_exactly(binding) for binding in extra]
        for future in client.delete_acls(filters, request_timeout=_TIMEOUT).values():
            future.result()


def held_acls(admin: KafkaConnection) -> list[Acl]:
    """Every ACL the broker holds now (whatever host it is bound to)."""
    return sorted(acl for acl, _ in _held(AdminClient(confluent_config(admin))))


def _held(client: AdminClient) -> list[tuple[Acl, AclBinding]]:
    anything = cast(str, None)  # a filter's None matches any value (the stubs say str)
    everything = AclBindingFilter(
        ResourceType.ANY,
        anything,
        ResourcePatternType.ANY,
        anything,
        anything,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    bindings: list[AclBinding] = client.describe_acls(everything, request_timeout=_TIMEOUT).result()
    return [
        (
            Acl(
                principal=binding.principal,
                resource_type="CLUSTER" if binding.restype == ResourceType.BROKER else _name(binding.restype),
                resource_name=binding.name,
                pattern=_name(binding.resource_pattern_type),
                operation=_name(binding.operation),
                permission=_name(binding.permission_type),
            ),
            binding,
        )
        for binding in bindings
    ]


def _name(value: Enum | str | int) -> str:
    return value.name if isinstance(value, Enum) else str(value)


def _exactly(binding: AclBinding) -> AclBindingFilter:
    return AclBindingFilter(
        binding.restype,
        binding.name,
        binding.resource_pattern_type,
        binding.principal,
        binding.host,
        binding.operation,
        binding.permission_type,
    )


def _binding(acl: Acl) -> AclBinding:
    return AclBinding(
        ResourceType.BROKER if acl.resource_type == "CLUSTER" else ResourceType[acl.resource_type],
        acl.resource_name,
        ResourcePatternType[acl.pattern],
        acl.principal,
        "*",
        AclOperation[acl.operation],
        AclPermissionType[acl.permission],
    )


def generated_files() -> dict[Path, str]:
    """Every file whose content comes from the ACLs, with that content."""
    acls = desired_acls()
    table = render_acl_table(acls)
    files = {ACL_TABLE: table, ACL_SCRIPT: render_acl_script(acls)}
    if SECURITY_DOC.exists():
        files[SECURITY_DOC] = with_table(SECURITY_DOC.read_text(), table)
    return files


def main() -> None:
    """`python -m devstack.kafka_acls`: rewrite the ACL table (docs/security/acl-table.md and
    docs/security.md's marked section) and deploy/kafka/acls.sh from the code."""
    for path, text in generated_files().items():
        if path.exists() and path.read_text() == text:
            print(f"{path.relative_to(REPO_ROOT)} is up to date")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
