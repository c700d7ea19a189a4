"""compose.yaml cannot be run here (no Docker engine), so its contract is checked by parsing it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
PORTS = {"identity": 8001, "workspace": 8002, "billing": 8003, "invites": 8004, "skool-ingest": 8005}
SECRETS = {
    "identity": "IDENTITY_AUTH_WEBHOOK_SECRET",
    "billing": "BILLING_STRIPE_WEBHOOK_SECRET",
    "skool-ingest": "SKOOL_INGEST_WEBHOOK_SECRET",
}
SHARED_VARIABLES = {
    "KAFKA_BOOTSTRAP_SERVERS",
    "DATABASE_URL",
    "PLATFORM_SERVICE_KEY",
    "PLATFORM_TOKEN_MINT_KEY",
    "PLATFORM_OPERATOR_KEY",
    "SMTP_HOST",
    "SMTP_PORT",
}


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((REPO / "compose.yaml").read_text())
    return document


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
        assert f"{port}:{port}" in service["ports"]
        assert int(environment[f"{prefix}_PORT"]) == port
        assert set(environment) >= SHARED_VARIABLES, name
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert service["build"]["args"]["SERVICE"] == name
    for name, variable in SECRETS.items():
        assert variable in services[name]["environment"]


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
