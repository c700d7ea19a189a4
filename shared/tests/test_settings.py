"""Settings: per-service prefix, shared unprefixed variables, placeholder secrets refused."""

from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from shared.settings import (
    DEV_SERVICE_KEY,
    DEV_SKOOL_WEBHOOK_SECRET,
    MIN_SECRET_BYTES,
    ServiceSettings,
    load_settings,
)


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore")
    service_name: ClassVar[str] = "demo-svc"
    default_port: ClassVar[int] = 8099
    secret_fields: ClassVar[tuple[str, ...]] = (*ServiceSettings.secret_fields, "webhook_secret")
    webhook_secret: str = "dev-secret"


def test_prefixed_and_shared_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_PORT", "9100")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker:9092")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5432/postgres")
    settings = DemoSettings()
    assert settings.http_port == 9100
    assert settings.kafka_bootstrap_servers == "broker:9092"
    assert settings.effective_database_url == "postgresql+asyncpg://u:p@db:5432/demo_svc"


def test_a_service_database_url_wins_over_the_shared_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db/postgres")
    monkeypatch.setenv("DEMO_DATABASE_URL", "postgres://other@elsewhere/custom")
    assert DemoSettings().effective_database_url == "postgresql+asyncpg://other@elsewhere/custom"


def test_development_defaults_are_accepted_in_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATFORM_ENVIRONMENT", "development")
    assert DemoSettings().http_port == 8099


def test_no_environment_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLATFORM_ENVIRONMENT", raising=False)
    with pytest.raises(ValidationError, match="PLATFORM_ENVIRONMENT is not set"):
        DemoSettings()


REAL = {
    "PLATFORM_SERVICE_KEY": "a-real-service-key-0123456789abcdef",
    "PLATFORM_TOKEN_MINT_KEY": "a-real-token-mint-key-0123456789abcdef",
    "PLATFORM_OPERATOR_KEY": "a-real-operator-key-0123456789abcdef",
    "DEMO_WEBHOOK_SECRET": "a-real-webhook-secret-0123456789abcdef",
    # In production a database URL must name a login of its own, with a password (not backbone).
    "DATABASE_URL": "postgresql://demo_svc_app:a-real-database-password@db:5432/postgres",
    # Production's bus: SASL_SSL with SCRAM, the service's own principal (issue 16).
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SSL_CAFILE": __file__,  # a file that exists (the settings check that; only a client reads it)
    "DEMO_KAFKA_USERNAME": "demo-svc",
    "DEMO_KAFKA_PASSWORD": "a-real-kafka-password-0123456789abcdef",
}


@pytest.mark.parametrize("environment", ["production", "test"])
@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("DEMO_WEBHOOK_SECRET", "dev-secret", "holds a published development value"),  # its own default
        (
            "PLATFORM_OPERATOR_KEY",
            DEV_SKOOL_WEBHOOK_SECRET,
            "holds a published development value",
        ),  # another's
        ("PLATFORM_SERVICE_KEY", DEV_SERVICE_KEY, "holds a published development value"),
        ("PLATFORM_SERVICE_KEY", "", "is empty"),
        ("PLATFORM_TOKEN_MINT_KEY", "short-but-not-a-default", f"is shorter than {MIN_SECRET_BYTES} bytes"),
        ("DEMO_KAFKA_PASSWORD", "kafka-pass", f"is shorter than {MIN_SECRET_BYTES} bytes"),
        ("DEMO_KAFKA_PASSWORD", DEV_SERVICE_KEY, "holds a published development value"),
        ("DEMO_KAFKA_PASSWORD", "", "is empty"),
    ],
)
def test_an_unsafe_secret_outside_development_is_refused_by_its_variable_never_its_value(
    monkeypatch: pytest.MonkeyPatch, environment: str, variable: str, value: str, problem: str
) -> None:
    monkeypatch.setenv("PLATFORM_ENVIRONMENT", environment)
    for name, real in REAL.items():
        monkeypatch.setenv(name, real)
    assert DemoSettings().webhook_secret == REAL["DEMO_WEBHOOK_SECRET"]
    monkeypatch.setenv(variable, value)

    with pytest.raises(SystemExit) as exited:
        load_settings(DemoSettings)

    assert exited.value.code == 2
    printed = exited.value.__context__
    assert isinstance(printed, ValidationError)
    message = str(printed.errors(include_input=False)[0]["msg"])
    assert f"{variable} {problem}" in message
    if value:
        assert value not in message


def test_load_settings_prints_the_variable_and_never_the_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PLATFORM_ENVIRONMENT", "production")
    for name, real in REAL.items():
        monkeypatch.setenv(name, real)
    monkeypatch.setenv("PLATFORM_SERVICE_KEY", "hunter2-leaked")

    with pytest.raises(SystemExit):
        load_settings(DemoSettings)

    printed = capsys.readouterr().err
    assert "demo-svc: refusing to start: PLATFORM_SERVICE_KEY is shorter than 32 bytes" in printed
    assert "hunter2" not in printed


def test_the_migration_url_is_its_own_variable_else_the_traffic_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_DATABASE_URL", "postgresql://demo_svc_app:p@db/demo_svc")
    assert DemoSettings().effective_migration_url == "postgresql+asyncpg://demo_svc_app:p@db/demo_svc"
    monkeypatch.setenv("DEMO_DATABASE_MIGRATION_URL", "postgresql://demo_svc_owner:q@db/demo_svc")
    settings = DemoSettings()
    assert settings.effective_migration_url == "postgresql+asyncpg://demo_svc_owner:q@db/demo_svc"
    assert settings.effective_database_url == "postgresql+asyncpg://demo_svc_app:p@db/demo_svc"


@pytest.mark.parametrize(
    ("variable", "url", "problem"),
    [
        (
            "DATABASE_URL",
            "postgresql://backbone@127.0.0.1:54329/postgres",
            "logs in as the development superuser",
        ),
        (
            "DATABASE_URL",
            "postgresql://backbone:s3cret-db-pass@db/postgres",
            "logs in as the development superuser",
        ),
        ("DATABASE_URL", "postgresql://demo_svc_app@db/postgres", "has no password"),
        ("DEMO_DATABASE_URL", "postgresql://demo_svc_app@db/demo_svc", "has no password"),
        ("DEMO_DATABASE_URL", "postgresql://db/demo_svc", "names no database login"),
        ("DEMO_DATABASE_MIGRATION_URL", "postgresql://backbone:s3cret-db-pass@db/demo_svc", "logs in as the"),
        ("DEMO_DATABASE_MIGRATION_URL", "postgresql://demo_svc_owner@db/demo_svc", "has no password"),
    ],
)
def test_production_refuses_a_database_login_without_password_or_as_the_development_superuser(
    monkeypatch: pytest.MonkeyPatch, variable: str, url: str, problem: str
) -> None:
    monkeypatch.setenv("PLATFORM_ENVIRONMENT", "production")
    for name, real in REAL.items():
        monkeypatch.setenv(name, real)
    assert DemoSettings().environment == "production"
    monkeypatch.setenv(variable, url)

    with pytest.raises(ValidationError) as refused:
        DemoSettings()

    message = str(refused.value.errors(include_input=False)[0]["msg"])
    assert f"{variable} {problem}" in message
    assert "s3cret" not in message


def test_production_with_no_database_url_at_all_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default server URL is the development superuser's: fail closed."""
    monkeypatch.setenv("PLATFORM_ENVIRONMENT", "production")
    for name, real in REAL.items():
        monkeypatch.setenv(name, real)
    monkeypatch.delenv("DATABASE_URL")
    with pytest.raises(ValidationError, match="DATABASE_URL logs in as the development superuser backbone"):
        DemoSettings()


def test_the_test_environment_keeps_the_trust_auth_superuser(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test platform (PLATFORM_ENVIRONMENT=test) runs on backbone without a password, unchanged."""
    monkeypatch.setenv("PLATFORM_ENVIRONMENT", "test")
    for name, real in REAL.items():
        monkeypatch.setenv(name, real)
    monkeypatch.setenv("DATABASE_URL", "postgresql://backbone@127.0.0.1:55432/postgres")
    assert DemoSettings().effective_database_url == "postgresql+asyncpg://backbone@127.0.0.1:55432/demo_svc"


def test_production_refuses_the_superuser_url_beside_a_service_url_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """<PREFIX>_DATABASE_URL wins over DATABASE_URL, but a production service handed the
    superuser's URL all the same would hold its password: refused too."""
    monkeypatch.setenv("PLATFORM_ENVIRONMENT", "production")
    for name, real in REAL.items():
        monkeypatch.setenv(name, real)
    monkeypatch.setenv("DEMO_DATABASE_URL", "postgresql://demo_svc_app:app-password@db/demo_svc")
    monkeypatch.delenv("DATABASE_URL")
    assert DemoSettings().effective_database_url.startswith("postgresql+asyncpg://demo_svc_app:")
    monkeypatch.setenv("DATABASE_URL", "postgresql://backbone:s3cret-superuser@db/postgres")
    with pytest.raises(ValidationError, match="DATABASE_URL logs in as the development superuser") as refused:
        DemoSettings()
    assert "s3cret" not in str(refused.value)


def _production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATFORM_ENVIRONMENT", "production")
    for name, real in REAL.items():
        monkeypatch.setenv(name, real)


def test_production_settings_describe_the_service_s_own_kafka_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _production(monkeypatch)

    connection = DemoSettings().kafka_connection

    assert connection.security_protocol == "SASL_SSL"
    assert connection.ssl_cafile == __file__
    assert (connection.username, connection.password) == ("demo-svc", REAL["DEMO_KAFKA_PASSWORD"])
    assert connection.mechanism == "SCRAM-SHA-512"


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        (
            "KAFKA_SECURITY_PROTOCOL",
            "PLAINTEXT",
            "KAFKA_SECURITY_PROTOCOL is PLAINTEXT: production needs SASL_SSL",
        ),
        ("KAFKA_SECURITY_PROTOCOL", "SSL", "KAFKA_SECURITY_PROTOCOL is SSL: production needs SASL_SSL"),
        (
            "KAFKA_SECURITY_PROTOCOL",
            "SASL_PLAINTEXT",
            "KAFKA_SECURITY_PROTOCOL is SASL_PLAINTEXT: production needs SASL_SSL",
        ),
        ("KAFKA_SASL_MECHANISM", "PLAIN", "KAFKA_SASL_MECHANISM is PLAIN: production needs SCRAM-SHA-512"),
        ("DEMO_KAFKA_USERNAME", "", "DEMO_KAFKA_USERNAME is empty"),
        ("KAFKA_SSL_CAFILE", "/nonexistent/ca.pem", "KAFKA_SSL_CAFILE names no file"),
    ],
)
def test_an_unauthenticated_or_unencrypted_bus_is_refused_in_production(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, problem: str
) -> None:
    _production(monkeypatch)
    monkeypatch.setenv(variable, value)

    with pytest.raises(SystemExit) as exited:
        load_settings(DemoSettings)

    printed = exited.value.__context__
    assert isinstance(printed, ValidationError)
    assert problem in str(printed.errors(include_input=False)[0]["msg"])
    assert REAL["DEMO_KAFKA_PASSWORD"] not in str(printed)


def test_without_kafka_settings_production_refuses_the_plaintext_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _production(monkeypatch)
    for name in ("KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM", "KAFKA_SSL_CAFILE"):
        monkeypatch.delenv(name)

    with pytest.raises(ValidationError, match="KAFKA_SECURITY_PROTOCOL is PLAINTEXT"):
        DemoSettings()


def test_development_and_test_keep_the_plaintext_bus(monkeypatch: pytest.MonkeyPatch) -> None:
    for environment in ("development", "test"):
        monkeypatch.setenv("PLATFORM_ENVIRONMENT", environment)
        for name, real in REAL.items():
            if not name.startswith(("KAFKA_", "DEMO_KAFKA_")):
                monkeypatch.setenv(name, real)
        assert DemoSettings().kafka_connection.client_kwargs()["security_protocol"] == "PLAINTEXT"
