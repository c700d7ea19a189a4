"""The production profile's secrets file: generated once, private, reused, each service its own."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from devstack.production_secrets import (
    KAFKA_ADMIN_PASSWORD,
    POSTGRES_SUPERUSER_PASSWORD,
    Endpoints,
    ProductionSecrets,
    read_env_file,
    secret_variables,
    settings_class,
)
from devstack.profiles import operator_environment, profile_of
from devstack.services import SERVICES
from shared.settings import DEVELOPMENT_SECRETS, MIN_SECRET_BYTES


def endpoints(tmp_path: Path, *, kafka_port: int = 9092, postgres_port: int = 54329) -> Endpoints:
    return Endpoints(
        kafka_bootstrap=f"127.0.0.1:{kafka_port}",
        postgres_host_port=f"127.0.0.1:{postgres_port}",
        ca_file=tmp_path / "tls" / "ca.pem",
    )


def test_every_secret_a_service_checks_is_generated_fresh_long_and_never_a_development_value(
    tmp_path: Path,
) -> None:
    generated = ProductionSecrets.load_or_create(tmp_path, endpoints(tmp_path))

    checked = {cls.variable_of(name) for cls in map(settings_class, SERVICES) for name in cls.secret_fields}
    assert checked and checked <= set(generated.values)
    for name in [*checked, KAFKA_ADMIN_PASSWORD, POSTGRES_SUPERUSER_PASSWORD]:
        value = generated.values[name]
        assert value not in DEVELOPMENT_SECRETS and len(value.encode()) >= MIN_SECRET_BYTES, name
    assert generated.values["IDENTITY_AUTH_WEBHOOK_SECRET"].startswith("whsec_")
    assert generated.values["BILLING_STRIPE_API_KEY"].startswith("sk_test_")
    assert secret_variables() == sorted(checked)
    other = ProductionSecrets.load_or_create(tmp_path / "elsewhere", endpoints(tmp_path))
    assert all(other.values[name] != generated.values[name] for name in checked)


def test_the_file_is_written_private_even_over_a_readable_one(tmp_path: Path) -> None:
    path = tmp_path / "secrets.env"
    path.write_text("# someone's notes\n")
    path.chmod(0o644)

    ProductionSecrets.load_or_create(tmp_path, endpoints(tmp_path))

    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_restart_keeps_every_secret_and_moves_only_the_addresses(tmp_path: Path) -> None:
    first = ProductionSecrets.load_or_create(tmp_path, endpoints(tmp_path))

    again = ProductionSecrets.load_or_create(
        tmp_path, endpoints(tmp_path, kafka_port=9192, postgres_port=54429)
    )

    assert again.kafka_passwords() == first.kafka_passwords()
    assert again.database_passwords() == first.database_passwords()
    for name in secret_variables():
        assert again.values[name] == first.values[name]
    assert again.values["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:9192"
    assert "@127.0.0.1:54429/billing" in again.values["BILLING_DATABASE_URL"]
    assert read_env_file(again.path) == again.values


def test_a_secret_missing_from_the_file_is_generated_and_the_rest_kept(tmp_path: Path) -> None:
    first = ProductionSecrets.load_or_create(tmp_path, endpoints(tmp_path))
    kept = {name: value for name, value in first.values.items() if name != "SKOOL_INGEST_WEBHOOK_SECRET"}
    first.path.write_text("".join(f"{name}={value}\n" for name, value in kept.items()))

    again = ProductionSecrets.load_or_create(tmp_path, endpoints(tmp_path))

    assert again.values["SKOOL_INGEST_WEBHOOK_SECRET"] != first.values["SKOOL_INGEST_WEBHOOK_SECRET"]
    assert again.values["PLATFORM_SERVICE_KEY"] == first.values["PLATFORM_SERVICE_KEY"]


def test_each_service_gets_only_its_own_credentials(tmp_path: Path) -> None:
    generated = ProductionSecrets.load_or_create(tmp_path, endpoints(tmp_path))

    for spec in SERVICES:
        env = generated.service_env(spec)
        others = [other.env_prefix for other in SERVICES if other != spec]
        assert env[f"{spec.env_prefix}_KAFKA_PASSWORD"] == generated.kafka_passwords()[spec.name]
        assert env[f"{spec.env_prefix}_DATABASE_URL"].startswith(
            f"postgresql://{spec.name.replace('-', '_')}_app:"
        )
        assert not [name for name in env if name.startswith(tuple(f"{prefix}_" for prefix in others))]
        assert not [name for name in env if name.startswith(("OPERATOR_", "DEVSTACK_"))]
        assert env["PLATFORM_SERVICE_KEY"] == generated.values["PLATFORM_SERVICE_KEY"]
        assert generated.foreign_variables(spec) == set(generated.values) - set(env)
    operator = generated.operator_env()
    assert operator["OPERATOR_KAFKA_USERNAME"] == "operator" and "OPERATOR_DATABASE_URL" in operator
    assert KAFKA_ADMIN_PASSWORD not in operator and POSTGRES_SUPERUSER_PASSWORD not in operator


def test_the_profile_is_development_unless_production_is_asked_for_and_nothing_else_is_guessed(
    tmp_path: Path,
) -> None:
    assert profile_of({}) == "development"
    assert profile_of({"DEVSTACK_PROFILE": "production"}) == "production"
    with pytest.raises(ValueError, match="DEVSTACK_PROFILE"):
        profile_of({"DEVSTACK_PROFILE": "prod"})
    generated = ProductionSecrets.load_or_create(tmp_path, endpoints(tmp_path))
    production = {"DEVSTACK_PROFILE": "production"}
    assert operator_environment(tmp_path, {}) == {}
    loaded = operator_environment(tmp_path, production)
    assert loaded["PLATFORM_OPERATOR_KEY"] == generated.values["PLATFORM_OPERATOR_KEY"]
    shell_wins = operator_environment(tmp_path, {**production, "PLATFORM_OPERATOR_KEY": "from the shell"})
    assert "PLATFORM_OPERATOR_KEY" not in shell_wins
