"""Settings base: one small class per service, with its own env prefix, on these shared fields.

Shared variables (`KAFKA_BOOTSTRAP_SERVERS`, `DATABASE_URL`, `PLATFORM_*`, `SMTP_*`)
are read without the service prefix; everything else is `<PREFIX>_<NAME>`. Every field has a
development default, and outside development a secret still at its default is refused.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

# Three purpose-split keys (API.md "Authentication"), each a separate secret: product backends,
# token minting, operators. A route accepts only its own purpose's key.
DEV_SERVICE_KEY = "dev-service-key-change-me"
DEV_TOKEN_MINT_KEY = "dev-token-mint-key-change-me"
DEV_OPERATOR_KEY = "dev-operator-key-change-me"
DEV_DATABASE_SERVER = "postgresql+asyncpg://backbone@127.0.0.1:54329/postgres"
DEV_JWKS_URL = "http://127.0.0.1:8001/.well-known/jwks.json"
DEV_TOKEN_ISSUER = "backbone-identity"
DEV_TOKEN_AUDIENCE = "backbone"


class PlaceholderSecretError(ValueError):
    """A secret still holds its development default in a non-development environment."""


class ServiceSettings(BaseSettings):
    """Fields every service has; subclasses set `service_name` and `model_config` (env prefix)."""

    model_config = SettingsConfigDict(extra="ignore")

    service_name: ClassVar[str] = "service"
    default_port: ClassVar[int] = 8000
    # Names of fields whose development default must never reach production.
    secret_fields: ClassVar[tuple[str, ...]] = ("service_key", "token_mint_key", "operator_key")

    environment: Literal["development", "test", "production"] = Field(
        default="development", validation_alias="PLATFORM_ENVIRONMENT"
    )
    # Which replica this process is (set by the runner: `workspace-2`); names its Kafka clients.
    instance: str = Field(default="", validation_alias="SERVICE_INSTANCE")
    host: str = "127.0.0.1"
    port: int = 0
    database_url: str | None = None
    database_server_url: str = Field(default=DEV_DATABASE_SERVER, validation_alias="DATABASE_URL")
    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    service_key: str = Field(default=DEV_SERVICE_KEY, validation_alias="PLATFORM_SERVICE_KEY")
    token_mint_key: str = Field(default=DEV_TOKEN_MINT_KEY, validation_alias="PLATFORM_TOKEN_MINT_KEY")
    operator_key: str = Field(default=DEV_OPERATOR_KEY, validation_alias="PLATFORM_OPERATOR_KEY")
    smtp_host: str = Field(default="127.0.0.1", validation_alias="SMTP_HOST")
    smtp_port: int = Field(default=8025, validation_alias="SMTP_PORT")
    # Verifying bearer tokens (shared.auth): identity's JWKS, what a token must name, how often an
    # unknown `kid` may trigger a refetch (a flood of made-up kids costs identity one fetch per N s).
    jwks_url: str = Field(default=DEV_JWKS_URL, validation_alias="PLATFORM_JWKS_URL")
    token_issuer: str = Field(default=DEV_TOKEN_ISSUER, validation_alias="PLATFORM_TOKEN_ISSUER")
    token_audience: str = Field(default=DEV_TOKEN_AUDIENCE, validation_alias="PLATFORM_TOKEN_AUDIENCE")
    token_leeway_seconds: float = Field(default=30, validation_alias="PLATFORM_TOKEN_LEEWAY_SECONDS")
    jwks_refetch_interval_seconds: float = Field(
        default=10, validation_alias="PLATFORM_JWKS_REFETCH_INTERVAL_SECONDS"
    )
    jwks_fetch_timeout_seconds: float = Field(
        default=5, validation_alias="PLATFORM_JWKS_FETCH_TIMEOUT_SECONDS"
    )
    # Bounds on verifying keys and tokens (docs/access.md, "JWKS caching"): cached keys are
    # refetched once older than the max age, so a key identity stops publishing stops verifying
    # within it; with identity unreachable they serve at most the grace longer, then 503. A token
    # whose lifetime (exp - iat) exceeds the max is refused, whatever key signed it.
    jwks_max_age_seconds: float = Field(default=300, gt=0, validation_alias="PLATFORM_JWKS_MAX_AGE_SECONDS")
    jwks_stale_grace_seconds: float = Field(
        default=300, ge=0, validation_alias="PLATFORM_JWKS_STALE_GRACE_SECONDS"
    )
    token_max_lifetime_seconds: int = Field(
        default=3600, gt=0, validation_alias="PLATFORM_TOKEN_MAX_LIFETIME_SECONDS"
    )
    consumer_max_attempts: int = 5
    # Most records one partition hands to its consumer as one batch (one transaction).
    consumer_batch_size: int = 500
    consumer_backoff_initial_seconds: float = 0.05
    consumer_backoff_max_seconds: float = 2.0
    outbox_safety_poll_seconds: float = 2.0
    outbox_retention_hours: float = 72
    inbox_retention_hours: float = 24 * 14
    # Request body limits (shared.http.body_limit): over them, 413 payload_too_large.
    max_body_bytes: int = Field(default=1024 * 1024, gt=0, validation_alias="PLATFORM_MAX_BODY_BYTES")
    max_webhook_body_bytes: int = Field(
        default=256 * 1024, gt=0, validation_alias="PLATFORM_MAX_WEBHOOK_BODY_BYTES"
    )

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> ServiceSettings:
        if self.environment == "development":
            return self
        for name in self.secret_fields:
            default = type(self).model_fields[name].default
            if getattr(self, name) == default:
                raise PlaceholderSecretError(
                    f"{name} still holds its development default; set it for {self.environment}"
                )
        return self

    @property
    def http_port(self) -> int:
        return self.port or self.default_port

    @property
    def database_name(self) -> str:
        return self.service_name.replace("-", "_")

    @property
    def effective_database_url(self) -> str:
        """This service's own database: `<PREFIX>_DATABASE_URL`, else its name on DATABASE_URL's server."""
        if self.database_url:
            return as_asyncpg_url(self.database_url)
        server = make_url(as_asyncpg_url(self.database_server_url))
        return server.set(database=self.database_name).render_as_string(hide_password=False)

    @property
    def instance_name(self) -> str:
        return self.instance or self.service_name

    @property
    def consumer_group(self) -> str:
        return self.service_name


def as_asyncpg_url(url: str) -> str:
    """Accept `postgresql://` / `postgres://` URLs and return the asyncpg flavour SQLAlchemy needs."""
    for prefix in ("postgresql+asyncpg://", "postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def as_libpq_url(url: str) -> str:
    """The plain `postgresql://` form, for asyncpg.connect and psql."""
    return "postgresql://" + as_asyncpg_url(url)[len("postgresql+asyncpg://") :]
