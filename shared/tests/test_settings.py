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
