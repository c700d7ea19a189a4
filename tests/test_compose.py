"""compose.yaml cannot be run here (no Docker engine), so its contract is checked by parsing it.

It mirrors the production profile (docs/security.md): Kafka on SASL_SSL with ACLs generated from
the code, per-service database logins, every secret required, nothing but the services' HTTP
ports published, production environment.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstack.compose_env import render, required_variables
from devstack.kafka import Replication
from devstack.partitions import DEVELOPMENT_PARTITIONS, PRODUCTION_PARTITIONS, TopicPartitions
from devstack.production_secrets import secret_variables
from devstack.services import SERVICES, database_name
from shared.events.topics import ALL_TOPICS, dlq_topic

REPO = Path(__file__).resolve().parents[1]
KAFKA_NODES = ("kafka-1", "kafka-2", "kafka-3")
PORTS = {"identity": 8001, "workspace": 8002, "billing": 8003, "invites": 8004, "skool-ingest": 8005}
SHARED_VARIABLES = {
    "PLATFORM_ENVIRONMENT",
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SSL_CAFILE",
    "PLATFORM_SERVICE_KEY",
    "PLATFORM_TOKEN_MINT_KEY",
    "PLATFORM_OPERATOR_KEY",
    "SMTP_HOST",
    "SMTP_PORT",
}
REQUIRED = re.compile(r"^\$\{[A-Z0-9_]+:\?[^}]*\}$")


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((REPO / "compose.yaml").read_text())
    return document


def required(value: str) -> bool:
    """`${NAME:?message}`: compose refuses to start when NAME is unset or empty."""
    return bool(REQUIRED.match(value))


def kafka_nodes() -> dict[str, dict[str, Any]]:
    """The services that run a Kafka node (broker and controller), by name."""
    return {
        name: service
        for name, service in compose()["services"].items()
        if "KAFKA_PROCESS_ROLES" in service.get("environment", {})
    }


def test_compose_runs_official_kafka_and_postgres_images() -> None:
    services = compose()["services"]
    assert set(kafka_nodes()) == set(KAFKA_NODES)
    for node in KAFKA_NODES:
        assert services[node]["image"].startswith("apache/kafka:4.")
        assert services[node]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["postgres"]["image"].startswith("postgres:")


def test_compose_names_every_service_with_its_port_and_variables() -> None:
    services = compose()["services"]
    for name, port in PORTS.items():
        service = services[name]
        prefix = name.upper().replace("-", "_")
        environment = service["environment"]
        assert service["ports"] == [f"{port}:{port}"]
        assert int(environment[f"{prefix}_PORT"]) == port
        assert set(environment) >= SHARED_VARIABLES, name
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert service["build"]["args"]["SERVICE"] == name


def test_neither_kafka_nor_postgres_is_published_to_the_host() -> None:
    services = compose()["services"]
    for name in (*KAFKA_NODES, "kafka-tls", "kafka-init", "postgres"):
        assert "ports" not in services[name], name


@pytest.mark.parametrize("node", KAFKA_NODES)
def test_kafka_takes_clients_on_sasl_ssl_only_and_denies_what_no_acl_allows(node: str) -> None:
    kafka = compose()["services"][node]["environment"]
    protocols = dict(pair.split(":") for pair in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert protocols == {"CLIENT": "SASL_SSL", "CONTROLLER": "SSL", "INTERNAL": "SSL"}
    assert (
        "PLAINTEXT" not in kafka["KAFKA_LISTENERS"] and "PLAINTEXT" not in kafka["KAFKA_ADVERTISED_LISTENERS"]
    )
    assert kafka["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert "ScramLoginModule" in kafka["KAFKA_LISTENER_NAME_CLIENT_SCRAM___SHA___512_SASL_JAAS_CONFIG"]
    # The controller and internal listeners take only the platform's own certificates.
    assert kafka["KAFKA_LISTENER_NAME_CONTROLLER_SSL_CLIENT_AUTH"] == "required"
    assert kafka["KAFKA_LISTENER_NAME_INTERNAL_SSL_CLIENT_AUTH"] == "required"
    assert "CONTROLLER" not in kafka["KAFKA_ADVERTISED_LISTENERS"]
    assert kafka["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    assert kafka["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert set(kafka["KAFKA_SUPER_USERS"].split(";")) == {"User:CN=kafka-broker", "User:CN=kafka-admin"}


def test_a_one_shot_init_creates_users_and_the_acls_and_every_service_waits_for_it() -> None:
    services = compose()["services"]
    init = services["kafka-init"]
    assert init["command"] == ["/deploy/kafka/init.sh"]
    assert ". /deploy/kafka/acls.sh" in (REPO / "deploy/kafka/init.sh").read_text()
    for spec in SERVICES:
        assert services[spec.name]["depends_on"]["kafka-init"] == {
            "condition": "service_completed_successfully"
        }
        assert required(init["environment"][f"{spec.env_prefix}_KAFKA_PASSWORD"])
    assert required(init["environment"]["OPERATOR_KAFKA_PASSWORD"])
    for node in KAFKA_NODES:
        assert services[node]["depends_on"]["kafka-tls"] == {"condition": "service_completed_successfully"}


def test_each_service_has_its_own_kafka_principal_and_database_logins_and_nobody_elses() -> None:
    services = compose()["services"]
    for spec in SERVICES:
        environment = services[spec.name]["environment"]
        database = database_name(spec)
        assert environment["PLATFORM_ENVIRONMENT"] == "production"
        assert environment[f"{spec.env_prefix}_KAFKA_USERNAME"] == spec.name
        assert required(environment[f"{spec.env_prefix}_KAFKA_PASSWORD"])
        assert environment[f"{spec.env_prefix}_DATABASE_URL"].startswith(f"postgresql://{database}_app:${{")
        assert environment[f"{spec.env_prefix}_DATABASE_URL"].endswith(f"@postgres:5432/{database}")
        migration = environment[f"{spec.env_prefix}_DATABASE_MIGRATION_URL"]
        assert migration.startswith(f"postgresql://{database}_owner:${{")
        assert "DATABASE_URL" not in environment  # no shared (superuser) URL
        others = tuple(f"{other.env_prefix}_" for other in SERVICES if other != spec)
        assert not [name for name in environment if name.startswith(others)], spec.name


def test_every_secret_is_required_and_none_has_a_development_default() -> None:
    services = compose()["services"]
    for spec in SERVICES:
        environment = services[spec.name]["environment"]
        for name in secret_variables():
            if name in environment:
                assert required(environment[name]), f"{spec.name}: {name}"
    checked = set(secret_variables())
    assert checked <= set(required_variables())
    text = (REPO / "compose.yaml").read_text()
    assert "change-me" not in text and "backbone:backbone" not in text and ":-whsec" not in text


def test_postgres_uses_password_logins_created_by_the_init_script() -> None:
    postgres = compose()["services"]["postgres"]
    environment = postgres["environment"]
    assert required(environment["POSTGRES_PASSWORD"])
    assert "--auth-host=scram-sha-256" in environment["POSTGRES_INITDB_ARGS"]
    assert (
        "./deploy/postgres/init-logins.sh:/docker-entrypoint-initdb.d/10-logins.sh:ro" in postgres["volumes"]
    )
    script = (REPO / "deploy/postgres/init-logins.sh").read_text()
    for spec in SERVICES:
        database = database_name(spec)
        passwords = f'"${spec.env_prefix}_DATABASE_OWNER_PASSWORD" "${spec.env_prefix}_DATABASE_PASSWORD"'
        assert f"service {database} {passwords}" in script
        assert required(environment[f"{spec.env_prefix}_DATABASE_PASSWORD"])
        assert required(environment[f"{spec.env_prefix}_DATABASE_OWNER_PASSWORD"])


def test_the_env_generator_gives_every_variable_compose_requires() -> None:
    generated = dict(line.split("=", 1) for line in render().splitlines() if not line.startswith("#"))
    assert set(generated) == set(required_variables()) and len(generated) > 20
    assert all(len(value) >= 32 for value in generated.values())


def test_compose_observability_pieces_are_there() -> None:
    services = compose()["services"]
    assert {"otel-collector", "prometheus", "grafana"} <= set(services)
    for path in (
        "deploy/otel-collector.yaml",
        "deploy/prometheus/prometheus.yml",
        "deploy/prometheus/rules.yml",
        "deploy/grafana/dashboards/backbone.json",
    ):
        assert (REPO / path).is_file()


def test_billing_runs_as_an_api_container_and_a_worker_container_that_prometheus_scrapes() -> None:
    """The quota API's event loop carries no consumer (docs/performance.md, issue 17 item 3): the
    worker has billing's settings but its own role, and no published port."""
    services = compose()["services"]
    api, worker = services["billing"], services["billing-worker"]
    assert api["environment"]["SERVICE_ROLE"] == "api"
    assert worker["environment"] == {**api["environment"], "SERVICE_ROLE": "worker"}
    assert worker["build"] == api["build"] and worker["depends_on"] == api["depends_on"]
    assert "ports" not in worker
    scraped = yaml.safe_load((REPO / "deploy/prometheus/prometheus.yml").read_text())
    assert "billing-worker:8003" in scraped["scrape_configs"][0]["static_configs"][0]["targets"]


# --- the replicated cluster (issue 18, docs/kafka-cluster.md) and its partitions ---------------


def test_kafka_is_three_combined_nodes_in_one_static_quorum() -> None:
    nodes = kafka_nodes()
    voters = ",".join(f"{i}@kafka-{i}:9093" for i in range(1, 4))
    cluster_ids = set()
    for node_id, name in enumerate(KAFKA_NODES, start=1):
        environment = nodes[name]["environment"]
        assert int(environment["KAFKA_NODE_ID"]) == node_id
        assert environment["KAFKA_CONTROLLER_QUORUM_VOTERS"] == voters
        assert environment["KAFKA_ADVERTISED_LISTENERS"] == f"CLIENT://{name}:9092,INTERNAL://{name}:9094"
        assert f"{name}-data:/var/lib/kafka/data" in nodes[name]["volumes"]
        assert nodes[name]["healthcheck"]["test"], name
        cluster_ids.add(environment["CLUSTER_ID"])
    # One cluster id for the three storages: 16 bytes, URL-safe base64 without padding.
    [cluster_id] = cluster_ids
    default = re.fullmatch(r"\$\{KAFKA_CLUSTER_ID:-([A-Za-z0-9_-]{22})\}", cluster_id)
    assert default, cluster_id
    assert len(base64.urlsafe_b64decode(default.group(1) + "==")) == 16


def test_every_topic_the_offsets_and_the_transaction_log_have_three_copies_and_need_two() -> None:
    """The same settings as the local cluster's three nodes (devstack.kafka.Replication)."""
    expected = Replication.for_brokers(3)
    assert (expected.factor, expected.min_insync) == (3, 2)
    for name, node in kafka_nodes().items():
        environment = node["environment"]
        for setting in expected.properties():
            key, value = setting.split("=")
            assert str(environment[f"KAFKA_{key.upper().replace('.', '_')}"]) == value, (name, key)
        assert str(environment["KAFKA_MIN_INSYNC_REPLICAS"]) == "2"
    init = compose()["services"]["kafka-init"]["environment"]
    assert str(init["KAFKA_TOPIC_REPLICATION_FACTOR"]) == str(expected.factor)
    assert str(init["KAFKA_TOPIC_MIN_INSYNC_REPLICAS"]) == str(expected.min_insync)
    script = (REPO / "deploy/kafka/init.sh").read_text()
    assert '--replication-factor "${KAFKA_TOPIC_REPLICATION_FACTOR:-3}"' in script
    assert '--config "min.insync.replicas=${KAFKA_TOPIC_MIN_INSYNC_REPLICAS:-2}"' in script


def test_every_service_and_kafka_init_bootstrap_from_all_three_nodes_and_wait_for_them() -> None:
    services = compose()["services"]
    for name in [spec.name for spec in SERVICES] + ["billing-worker"]:
        environment = services[name]["environment"]
        assert environment["KAFKA_BOOTSTRAP_SERVERS"].split(",") == [f"{n}:9092" for n in KAFKA_NODES], name
        for node in KAFKA_NODES:
            assert services[name]["depends_on"][node] == {"condition": "service_healthy"}, name
    init = services["kafka-init"]
    assert init["environment"]["KAFKA_BOOTSTRAP"].split(",") == [f"{n}:9094" for n in KAFKA_NODES]
    assert "--bootstrap-server ${KAFKA_BOOTSTRAP" in (REPO / "deploy/kafka/init.sh").read_text()
    for node in KAFKA_NODES:
        assert init["depends_on"][node] == {"condition": "service_healthy"}


def test_the_broker_certificate_names_every_node() -> None:
    """Inter-broker, controller and client connections verify the node's host name."""
    script = (REPO / "deploy/kafka/tls-init.sh").read_text()
    [san] = re.findall(r'^SAN="([^"]+)"$', script, re.MULTILINE)
    names = set(san.split(","))
    assert {f"dns:{node}" for node in KAFKA_NODES} | {"dns:localhost"} <= names
    assert '-ext "SAN=$SAN"' in script  # both certificates carry it
    assert '"$(cat san.txt 2>/dev/null)" = "$SAN"' in script  # a volume naming other hosts is rewritten


def _shell_partitions(topic: str, environ: dict[str, str]) -> str:
    done = subprocess.run(
        ["sh", "-c", '. "$0"; partitions_of "$1"', str(REPO / "deploy/kafka/partitions.sh"), topic],
        env={"PATH": os.environ["PATH"], **environ},
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else f"refused: {done.stderr.strip()}"


def test_kafka_init_gives_the_documented_partition_count() -> None:
    """compose creates PRODUCTION_PARTITIONS (12) per topic unless told, as README and
    docs/partitions.md say; the nodes' default for other topics is the same."""
    assert PRODUCTION_PARTITIONS == 12 and DEVELOPMENT_PARTITIONS == 3
    init = compose()["services"]["kafka-init"]["environment"]
    assert init["KAFKA_TOPIC_PARTITIONS"] == f"${{KAFKA_TOPIC_PARTITIONS:-{PRODUCTION_PARTITIONS}}}"
    for node in kafka_nodes().values():
        assert str(node["environment"]["KAFKA_NUM_PARTITIONS"]) == str(PRODUCTION_PARTITIONS)
    [row] = [
        line
        for line in (REPO / "README.md").read_text().splitlines()
        if line.startswith("| `KAFKA_TOPIC_PARTITIONS`")
    ]
    default = row.split("|")[2]
    assert f"{PRODUCTION_PARTITIONS} in the production profile and compose" in default
    assert f"{DEVELOPMENT_PARTITIONS} in development" in default
    docs = (REPO / "docs/partitions.md").read_text()
    assert f"| production profile, compose.yaml | {PRODUCTION_PARTITIONS} |" in docs
    assert f"| development (`make run`), the test platform, CI | {DEVELOPMENT_PARTITIONS} |" in docs


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"KAFKA_TOPIC_PARTITIONS": "24"},
        {"KAFKA_TOPIC_PARTITIONS_WORKSPACE_ORGS": "48", "KAFKA_TOPIC_PARTITIONS_IDENTITY_USERS_DLQ": "1"},
        {"KAFKA_TOPIC_PARTITIONS": "6", "KAFKA_TOPIC_PARTITIONS_SKOOL_SUBSCRIPTIONS": "2"},
    ],
)
def test_kafka_init_and_devstack_give_every_topic_the_same_count(environ: dict[str, str]) -> None:
    """deploy/kafka/partitions.sh (compose) and devstack.partitions (the local platform) read
    the same variables the same way."""
    expected = TopicPartitions.from_env(default=PRODUCTION_PARTITIONS, environ=environ)
    for topic in [*ALL_TOPICS, *(dlq_topic(topic) for topic in ALL_TOPICS)]:
        assert _shell_partitions(topic, environ) == str(expected.of(topic)), (topic, environ)


def test_kafka_init_refuses_a_count_that_is_not_a_positive_number() -> None:
    for value in ("0", "twelve", "-3", "012"):
        for variable in ("KAFKA_TOPIC_PARTITIONS", "KAFKA_TOPIC_PARTITIONS_WORKSPACE_ORGS"):
            shell = _shell_partitions("workspace.orgs", {variable: value})
            assert shell.startswith(f"refused: {variable}={value}: expected a number"), shell
            with pytest.raises(ValueError, match=variable):
                TopicPartitions.from_env(default=PRODUCTION_PARTITIONS, environ={variable: value})
