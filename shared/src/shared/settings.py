"""Settings base: one small class per service, with its own env prefix, on these shared fields.

Shared variables (`KAFKA_BOOTSTRAP_SERVERS`, `DATABASE_URL`, `PLATFORM_*`, `SMTP_*`)
are read without the service prefix; everything else is `<PREFIX>_<NAME>`. Every field has a
development default, and outside development a secret still at its default is refused.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from shared.messaging.kafka_connection import KafkaConnection

# Three purpose-split keys (API.md "Authentication"), each a separate secret: product backends,
# token minting, operators. A route accepts only its own purpose's key.
DEV_SERVICE_KEY = "dev-service-key-change-me"
DEV_TOKEN_MINT_KEY = "dev-token-mint-key-change-me"
DEV_OPERATOR_KEY = "dev-operator-key-change-me"
# The services' own development secrets, kept here so that every service knows them all: outside
# development a secret equal to ANY published development value is refused, not only its own.
DEV_AUTH_WEBHOOK_SECRET = "whsec_ZGV2LWF1dGgtd2ViaG9vay1zZWNyZXQtMDAwMA=="
DEV_SIGNING_KEY_PASSPHRASE = "dev-signing-key-passphrase-change-me"
DEV_STRIPE_WEBHOOK_SECRET = "whsec_dev_stripe_webhook_secret"
DEV_STRIPE_API_KEY = "sk_test_devplaceholder"  # stripe-mock accepts sk_test_<one word> only
LEGACY_DEV_STRIPE_API_KEY = "sk_test_dev_placeholder"  # the earlier one (stripe-mock refused it)
DEV_SKOOL_WEBHOOK_SECRET = "dev-skool-webhook-secret"
DEVELOPMENT_SECRETS = frozenset(
    {
        DEV_SERVICE_KEY,
        DEV_TOKEN_MINT_KEY,
        DEV_OPERATOR_KEY,
        DEV_AUTH_WEBHOOK_SECRET,
        DEV_SIGNING_KEY_PASSPHRASE,
        DEV_STRIPE_WEBHOOK_SECRET,
        DEV_STRIPE_API_KEY,
        LEGACY_DEV_STRIPE_API_KEY,
        DEV_SKOOL_WEBHOOK_SECRET,
    }
)
# SASL mechanisms production accepts: SCRAM never sends the password (PLAIN would, inside TLS).
PRODUCTION_SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256")
# Outside development a secret shorter than this (in UTF-8 bytes) is refused.
MIN_SECRET_BYTES = 32
DEV_DATABASE_SERVER = "postgresql+asyncpg://backbone@127.0.0.1:54329/postgres"
# The development platform's superuser: in production no service may connect as it.
DEV_DATABASE_SUPERUSER = "backbone"
DEV_JWKS_URL = "http://127.0.0.1:8001/.well-known/jwks.json"
DEV_TOKEN_ISSUER = "backbone-identity"
DEV_TOKEN_AUDIENCE = "backbone"


class UnsafeSettings(ValueError):
    """Settings a service must not start with: no explicit `PLATFORM_ENVIRONMENT`, or (outside
    development) a secret that is empty, short or a published development value. The message
    names the variable, never its value."""


class ServiceSettings(BaseSettings):
    """Fields every service has; subclasses set `service_name` and `model_config` (env prefix)."""

    model_config = SettingsConfigDict(extra="ignore")

    service_name: ClassVar[str] = "service"
    default_port: ClassVar[int] = 8000
    # Names of fields whose development default must never reach production.
    secret_fields: ClassVar[tuple[str, ...]] = ("service_key", "token_mint_key", "operator_key")

    # No default on purpose: a deployment that forgets it must not run on development secrets
    # (fail closed); `make run` and the test platform set it themselves.
    environment: Literal["development", "test", "production"] | None = Field(
        default=None, validation_alias="PLATFORM_ENVIRONMENT"
    )
    # Which replica this process is (set by the runner: `workspace-2`); names its Kafka clients.
    instance: str = Field(default="", validation_alias="SERVICE_INSTANCE")
    # What this process runs (set by the runner, like the instance): `all` (HTTP, consumers,
    # relay, scheduled jobs), `api` (HTTP and relay: no consumers, no jobs) or `worker`
    # (consumers, relay, jobs; HTTP for health and metrics on a port of its own, never on the
    # service's shared port). An `api` process plus a `worker` process keep the HTTP API's event
    # loop free of consumer batches (docs/performance.md, issue 17 item 3).
    role: Literal["all", "api", "worker"] = Field(default="all", validation_alias="SERVICE_ROLE")
    host: str = "127.0.0.1"
    port: int = 0
    database_url: str | None = None
    # The login migrations run as (`<PREFIX>_DATABASE_MIGRATION_URL`: the database's owner), when
    # it is not the traffic login of `<PREFIX>_DATABASE_URL`; unset, both are the same URL.
    database_migration_url: str | None = None
    database_server_url: str = Field(default=DEV_DATABASE_SERVER, validation_alias="DATABASE_URL")
    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    # How this service authenticates to Kafka (shared.messaging.kafka_connection): plaintext in
    # development and tests; production refuses anything but SASL_SSL with SCRAM. The username and
    # password are the service's own (`<PREFIX>_KAFKA_USERNAME`, `<PREFIX>_KAFKA_PASSWORD`).
    kafka_security_protocol: str = Field(default="PLAINTEXT", validation_alias="KAFKA_SECURITY_PROTOCOL")
    kafka_sasl_mechanism: str | None = Field(default=None, validation_alias="KAFKA_SASL_MECHANISM")
    kafka_ssl_cafile: str | None = Field(default=None, validation_alias="KAFKA_SSL_CAFILE")
    kafka_username: str | None = None
    kafka_password: str | None = None
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
    # Proxies whose `X-Forwarded-For` the rate limits believe (comma-separated CIDRs; none by
    # default): shared.http.ratelimit.TrustedProxies.
    trusted_proxies: str = Field(default="", validation_alias="PLATFORM_TRUSTED_PROXIES")
    max_body_bytes: int = Field(default=1024 * 1024, gt=0, validation_alias="PLATFORM_MAX_BODY_BYTES")
    max_webhook_body_bytes: int = Field(
        default=256 * 1024, gt=0, validation_alias="PLATFORM_MAX_WEBHOOK_BODY_BYTES"
    )

    @model_validator(mode="after")
    def _fail_closed(self) -> ServiceSettings:
        if self.environment is None:
            raise UnsafeSettings(
                "PLATFORM_ENVIRONMENT is not set: set it to development, test or production "
                "(a service never guesses which, so it never runs on development secrets by accident)"
            )
        if self.environment == "development":
            self._check_kafka_connection()
            return self
        secrets = self.secret_fields
        if self.kafka_security_protocol.startswith("SASL_"):
            secrets = (*secrets, "kafka_password")
        for name in secrets:
            problem = _secret_problem(
                getattr(self, name) or "", own_default=type(self).model_fields[name].default
            )
            if problem is not None:
                raise UnsafeSettings(
                    f"{self.variable_of(name)} {problem} (PLATFORM_ENVIRONMENT={self.environment})"
                )
        if self.environment == "production":
            self._refuse_unsafe_database_logins()
            self._refuse_unsafe_kafka()
        self._check_kafka_connection()
        return self

    def _refuse_unsafe_database_logins(self) -> None:
        """In production every database URL a service uses must carry a password and must not be
        the development superuser: one login per service (docs/security/postgres.md)."""
        urls = []
        if self.database_url:
            urls.append(("database_url", self.database_url))
        # DATABASE_URL is checked when it is used (no <PREFIX>_DATABASE_URL) and whenever it is
        # given: a service whose own URL wins must still not be handed the superuser's.
        if not self.database_url or "database_server_url" in self.model_fields_set:
            urls.append(("database_server_url", self.database_server_url))
        if self.database_migration_url:
            urls.append(("database_migration_url", self.database_migration_url))
        for name, url in urls:
            problem = _database_login_problem(url)
            if problem is not None:
                raise UnsafeSettings(f"{self.variable_of(name)} {problem} (PLATFORM_ENVIRONMENT=production)")

    def _refuse_unsafe_kafka(self) -> None:
        """In production the bus is authenticated and encrypted: SASL_SSL with SCRAM only
        (PLAINTEXT and SASL_PLAINTEXT travel in clear, SSL alone authenticates no one)."""
        where = f"(PLATFORM_ENVIRONMENT={self.environment})"
        if self.kafka_security_protocol != "SASL_SSL":
            protocol = self.kafka_security_protocol
            raise UnsafeSettings(f"KAFKA_SECURITY_PROTOCOL is {protocol}: production needs SASL_SSL {where}")
        if (self.kafka_sasl_mechanism or "SCRAM-SHA-512") not in PRODUCTION_SASL_MECHANISMS:
            raise UnsafeSettings(
                f"KAFKA_SASL_MECHANISM is {self.kafka_sasl_mechanism}: production needs "
                f"{' or '.join(PRODUCTION_SASL_MECHANISMS)} {where}"
            )

    def _check_kafka_connection(self) -> None:
        """A connection the settings cannot make (unknown protocol, SASL without credentials)
        stops the service at start, not at its first Kafka call."""
        protocol = self.kafka_security_protocol
        if protocol.startswith("SASL_"):
            for name in ("kafka_username", "kafka_password"):
                if not getattr(self, name):
                    variable = self.variable_of(name)
                    raise UnsafeSettings(f"{variable} is empty (KAFKA_SECURITY_PROTOCOL={protocol})")
        if self.kafka_ssl_cafile and not Path(self.kafka_ssl_cafile).is_file():
            # Else every client would fail to start, and the broker loop retry it for ever.
            raise UnsafeSettings("KAFKA_SSL_CAFILE names no file")
        try:
            self.kafka_connection  # noqa: B018 (built for its validation)
        except ValueError as error:
            raise UnsafeSettings(str(error)) from None

    @classmethod
    def variable_of(cls, field: str) -> str:
        """The variable a field is read from: `PLATFORM_SERVICE_KEY`, `BILLING_STRIPE_API_KEY`."""
        alias = cls.model_fields[field].validation_alias
        if isinstance(alias, str):
            return alias
        return f"{cls.model_config.get('env_prefix', '')}{field}".upper()

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
    def effective_migration_url(self) -> str:
        """The URL migrations run with: `<PREFIX>_DATABASE_MIGRATION_URL`, else the traffic URL."""
        if self.database_migration_url:
            return as_asyncpg_url(self.database_migration_url)
        return self.effective_database_url

    @property
    def runs_consumers(self) -> bool:
        """Consumers and scheduled jobs run in `all` and `worker` processes, not in `api` ones."""
        return self.role != "api"

    @property
    def instance_name(self) -> str:
        return self.instance or self.service_name

    @property
    def consumer_group(self) -> str:
        return self.service_name

    @property
    def kafka_connection(self) -> KafkaConnection:
        """How every Kafka client of this service connects (relay, DLQ producer, consumers)."""
        return KafkaConnection(
            bootstrap_servers=self.kafka_bootstrap_servers,
            security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            ssl_cafile=self.kafka_ssl_cafile,
            username=self.kafka_username,
            password=self.kafka_password,
        )


def _secret_problem(value: str, *, own_default: object) -> str | None:
    """What is wrong with a secret outside development (never quoting it), or None."""
    if not value:
        return "is empty"
    if value in DEVELOPMENT_SECRETS or value == own_default:
        return "holds a published development value"
    if len(value.encode()) < MIN_SECRET_BYTES:
        return f"is shorter than {MIN_SECRET_BYTES} bytes"
    return None


def _database_login_problem(url: str) -> str | None:
    """What is wrong with a database URL's login in production (never quoting the URL), or None."""
    try:
        parsed = make_url(as_asyncpg_url(url))
    except Exception:  # the URL itself may hold a password: not quoted
        return "is not a database URL"
    if not parsed.username:
        return "names no database login"
    if parsed.username == DEV_DATABASE_SUPERUSER:
        return f"logs in as the development superuser {DEV_DATABASE_SUPERUSER}"
    if not parsed.password:
        return "has no password"
    return None


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def load_settings(settings_class: type[SettingsT]) -> SettingsT:
    """A service's settings, or exit (status 2) with what is wrong, before anything connects.

    The message names each variable at fault and never its value (pydantic's own message would
    quote the input, secrets included)."""
    try:
        return settings_class()
    except ValidationError as error:
        problems = [_describe(problem) for problem in error.errors(include_url=False, include_input=False)]
        print(f"{settings_class.service_name}: refusing to start: " + "; ".join(problems), file=sys.stderr)
        raise SystemExit(2) from None


def _describe(problem: Any) -> str:
    message = str(problem["msg"]).removeprefix("Value error, ")
    where = ".".join(str(part) for part in problem["loc"])
    return f"{where}: {message}" if where else message


def as_asyncpg_url(url: str) -> str:
    """Accept `postgresql://` / `postgres://` URLs and return the asyncpg flavour SQLAlchemy needs."""
    for prefix in ("postgresql+asyncpg://", "postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def as_libpq_url(url: str) -> str:
    """The plain `postgresql://` form, for asyncpg.connect and psql."""
    return "postgresql://" + as_asyncpg_url(url)[len("postgresql+asyncpg://") :]
