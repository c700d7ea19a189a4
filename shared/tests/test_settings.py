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
