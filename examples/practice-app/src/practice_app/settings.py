"""The example's configuration: its own variables (PRACTICE_APP_*) and the platform's shared ones."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from backbone_client.client import PlatformEndpoints
from backbone_client.kafka import KafkaSettings

DEFAULT_PORT = 8010
# The consumer group, and the name the app's dead letters carry.
CONSUMER = "practice-app"


@dataclass(frozen=True)
class Settings:
    """PRACTICE_APP_PORT (8010), PRACTICE_APP_DATABASE_URL (its own database), the Kafka variables
    the services read (principal PRACTICE_APP_KAFKA_USERNAME/_PASSWORD), PLATFORM_BILLING_URL and
    friends, PLATFORM_SERVICE_KEY, and the token variables (PLATFORM_JWKS_URL, ...)."""

    database_url: str
    port: int = DEFAULT_PORT
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    endpoints: PlatformEndpoints = field(default_factory=PlatformEndpoints)
    service_key: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        database_url = environ.get("PRACTICE_APP_DATABASE_URL")
        if not database_url:
            raise ValueError("PRACTICE_APP_DATABASE_URL is required (postgresql+asyncpg://...)")
        service_key = environ.get("PLATFORM_SERVICE_KEY")
        if not service_key:
            raise ValueError("PLATFORM_SERVICE_KEY is required (the quota calls to billing)")
        return cls(
            database_url=database_url,
            port=int(environ.get("PRACTICE_APP_PORT") or DEFAULT_PORT),
            kafka=KafkaSettings.from_env("PRACTICE_APP", environ),
            endpoints=PlatformEndpoints.from_env(environ),
            service_key=service_key,
        )
