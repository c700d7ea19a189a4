"""Settings: per-service prefix, shared unprefixed variables, placeholder secrets refused."""

from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore")
    service_name: ClassVar[str] = "demo-svc"
    default_port: ClassVar[int] = 8099
    secret_fields: ClassVar[tuple[str, ...]] = ("service_key", "webhook_secret")
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
    monkeypatch.delenv("PLATFORM_ENVIRONMENT", raising=False)
    assert DemoSettings().http_port == 8099


@pytest.mark.parametrize("environment", ["production", "test"])
def test_placeholder_secrets_are_refused_outside_development(
    monkeypatch: pytest.MonkeyPatch, environment: str
) -> None:
    monkeypatch.setenv("PLATFORM_ENVIRONMENT", environment)
    monkeypatch.setenv("PLATFORM_SERVICE_KEY", "a-real-key")
    with pytest.raises(ValidationError, match="webhook_secret still holds its development default"):
        DemoSettings()
    monkeypatch.setenv("DEMO_WEBHOOK_SECRET", "a-real-secret")
    assert DemoSettings().webhook_secret == "a-real-secret"
