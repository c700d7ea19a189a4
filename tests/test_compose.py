"""compose.yaml cannot be run here (no Docker engine), so its contract is checked by parsing it.

It mirrors the production profile (docs/security.md): Kafka on SASL_SSL with ACLs generated from
the code, per-service database logins, every secret required, nothing but the services' HTTP
ports published, production environment.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from devstack.compose_env import render, required_variables
from devstack.production_secrets import secret_variables
from devstack.services import SERVICES, database_name

REPO = Path(__file__).resolve().parents[1]
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


def test_compose_runs_official_kafka_and_postgres_images() -> None:
    services = compose()["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
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
    for name in ("kafka", "kafka-tls", "kafka-init", "postgres"):
        assert "ports" not in services[name], name


def test_kafka_takes_clients_on_sasl_ssl_only_and_denies_what_no_acl_allows() -> None:
    kafka = compose()["services"]["kafka"]["environment"]
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
    assert services["kafka"]["depends_on"]["kafka-tls"] == {"condition": "service_completed_successfully"}


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
