"""The production profile's secrets: generated at random on first start, kept in `secrets.env`.

`DEVSTACK_PROFILE=production make run` writes `.local/production/secrets.env` (mode 0600): one
`KEY=value` line per secret and per client setting a caller needs — the three service keys, the
webhook secrets, the Kafka client settings with every principal's SCRAM credentials, and each
service's two database logins as URLs. Later starts reuse every value in it (a token signed, a
webhook secret configured at the sender or a database login keeps working across restarts) and
generate only what is missing; the lines that carry an address (Kafka's bootstrap, the database
URLs, the CA file) are rewritten for the ports of this start.

Which secrets a service needs is read from the services' own settings classes (`secret_fields`),
so a secret a service adds is generated here without a second list. Each service process gets
only its own: the variables of its prefix and the shared `PLATFORM_*`/`KAFKA_*` client settings —
never another service's webhook secret, Kafka password or database login (see `service_env`).
"""

from __future__ import annotations

import base64
import importlib
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from devstack.kafka_acls import OPERATOR_PRINCIPAL
from devstack.pg_logins import OPERATOR_LOGIN, DatabaseLogins, login_url
from devstack.services import SERVICES, ServiceSpec
from shared.settings import ServiceSettings

FILE_NAME = "secrets.env"
KAFKA_MECHANISM = "SCRAM-SHA-512"
KAFKA_PROTOCOL = "SASL_SSL"
# Operator tools (devstack status, trace, dlq) read their Kafka login and database URL under this
# prefix, as a service reads its own: OPERATOR_KAFKA_USERNAME, OPERATOR_DATABASE_URL.
OPERATOR_PREFIX = "OPERATOR"
# The platform's own bootstrap identities: the broker's super user (creates topics, users and
# ACLs) and PostgreSQL's superuser (creates databases and logins). No service ever gets them.
KAFKA_ADMIN_PASSWORD = "DEVSTACK_KAFKA_ADMIN_PASSWORD"
POSTGRES_SUPERUSER_PASSWORD = "DEVSTACK_POSTGRES_SUPERUSER_PASSWORD"


def random_secret() -> str:
    """256 random bits as URL-safe text (43 characters): any key, passphrase or password."""
    return secrets.token_urlsafe(32)


def svix_secret() -> str:
    """A Svix signing secret as the auth provider shows it: `whsec_` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def stripe_webhook_secret() -> str:
    return "whsec_" + secrets.token_hex(32)


def stripe_test_key() -> str:
    """A test-mode key stripe-mock accepts (`sk_test_` and one word of letters and digits)."""
    return "sk_test_" + secrets.token_hex(24)


# The few secrets with a shape of their own; every other one is `random_secret()`.
SECRET_SHAPES: dict[str, Callable[[], str]] = {
    "IDENTITY_AUTH_WEBHOOK_SECRET": svix_secret,
    "BILLING_STRIPE_WEBHOOK_SECRET": stripe_webhook_secret,
    "BILLING_STRIPE_API_KEY": stripe_test_key,
}


def settings_class(spec: ServiceSpec) -> type[ServiceSettings]:
    """The service's settings class (the one ServiceSettings subclass of `<package>.settings`)."""
    module = importlib.import_module(f"{spec.package}.settings")
    found = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, ServiceSettings) and value is not ServiceSettings
    ]
    if len(found) != 1:
        raise LookupError(f"{spec.package}.settings defines {len(found)} settings classes, not one")
    return found[0]


def secret_variables() -> list[str]:
    """Every secret variable a service refuses to start without outside development (sorted)."""
    variables = {cls.variable_of(name) for cls in map(settings_class, SERVICES) for name in cls.secret_fields}
    return sorted(variables)


def kafka_principal(spec: ServiceSpec) -> str:
    """A service's Kafka user name: the service's name (`skool-ingest`)."""
    return spec.name


@dataclass(frozen=True)
class Endpoints:
    """Where this start's servers listen (the address-bearing lines of the file follow them)."""

    kafka_bootstrap: str
    postgres_host_port: str
    ca_file: Path


@dataclass
class ProductionSecrets:
    """The values of `secrets.env`, read or generated (see the module's docstring)."""

    path: Path
    values: dict[str, str]

    @classmethod
    def load_or_create(cls, folder: Path, endpoints: Endpoints) -> ProductionSecrets:
        path = folder / FILE_NAME
        existing = read_env_file(path) if path.exists() else {}
        found = cls(path=path, values={})
        found.values = found._complete(existing, endpoints)
        found.write()
        return found

    def write(self) -> None:
        """Write the file with mode 0600 from its first byte (never readable by others)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)  # an older file keeps its mode through O_CREAT: set it
        with os.fdopen(descriptor, "w") as file:
            file.write(
                "# The production profile's secrets and client settings (devstack production_secrets.py).\n"
                "# Generated on first start, reused after; keep it private (mode 0600).\n"
            )
            for name, value in self.values.items():
                file.write(f"{name}={value}\n")

    def _complete(self, existing: Mapping[str, str], endpoints: Endpoints) -> dict[str, str]:
        def kept(name: str, make: Callable[[], str] = random_secret) -> str:
            return existing.get(name) or make()

        values = {name: kept(name, SECRET_SHAPES.get(name, random_secret)) for name in secret_variables()}
        values |= {
            "KAFKA_BOOTSTRAP_SERVERS": endpoints.kafka_bootstrap,
            "KAFKA_SECURITY_PROTOCOL": KAFKA_PROTOCOL,
            "KAFKA_SASL_MECHANISM": KAFKA_MECHANISM,
            "KAFKA_SSL_CAFILE": str(endpoints.ca_file),
        }
        for prefix, principal in _kafka_clients():
            values[f"{prefix}_KAFKA_USERNAME"] = principal
            values[f"{prefix}_KAFKA_PASSWORD"] = kept(f"{prefix}_KAFKA_PASSWORD")
        for spec in SERVICES:
            logins = DatabaseLogins.of(spec)
            for variable, login in (("DATABASE_MIGRATION_URL", logins.owner), ("DATABASE_URL", logins.app)):
                name = f"{spec.env_prefix}_{variable}"
                password = _password_in(existing.get(name)) or random_secret()
                values[name] = login_url(endpoints.postgres_host_port, login, password, logins.database)
        name = f"{OPERATOR_PREFIX}_DATABASE_URL"
        password = _password_in(existing.get(name)) or random_secret()
        values[name] = login_url(endpoints.postgres_host_port, OPERATOR_LOGIN, password, "postgres")
        values[KAFKA_ADMIN_PASSWORD] = kept(KAFKA_ADMIN_PASSWORD)
        values[POSTGRES_SUPERUSER_PASSWORD] = kept(POSTGRES_SUPERUSER_PASSWORD)
        return values

    # --- what each party gets -----------------------------------------------------------------

    def kafka_passwords(self) -> dict[str, str]:
        """Every Kafka principal's SCRAM password (the services' and the operator's), by user name."""
        return {principal: self.values[f"{prefix}_KAFKA_PASSWORD"] for prefix, principal in _kafka_clients()}

    def database_passwords(self) -> dict[str, str]:
        """Every database login's password, by login name."""
        found = {}
        for spec in SERVICES:
            for variable in ("DATABASE_MIGRATION_URL", "DATABASE_URL"):
                url = urlsplit(self.values[f"{spec.env_prefix}_{variable}"])
                found[unquote(url.username or "")] = unquote(url.password or "")
        operator = urlsplit(self.values[f"{OPERATOR_PREFIX}_DATABASE_URL"])
        found[OPERATOR_LOGIN] = unquote(operator.password or "")
        return found

    def service_env(self, spec: ServiceSpec) -> dict[str, str]:
        """What one service process gets: the shared settings and its own prefix's values only."""
        own = f"{spec.env_prefix}_"
        return {
            name: value
            for name, value in self.values.items()
            if name.startswith(own) or name.startswith(("PLATFORM_", "KAFKA_"))
        }

    def operator_env(self) -> dict[str, str]:
        """What the operator tools get: the service keys, Kafka's client settings, their logins."""
        return {
            name: value
            for name, value in self.values.items()
            if name.startswith((f"{OPERATOR_PREFIX}_", "PLATFORM_", "KAFKA_"))
        }

    def foreign_variables(self, spec: ServiceSpec) -> set[str]:
        """The file's variables `spec` must not see (to strip them from an inherited environment)."""
        return set(self.values) - set(self.service_env(spec))


def _kafka_clients() -> list[tuple[str, str]]:
    """(env prefix, Kafka user name) of every client principal: each service, then the operator."""
    return [(spec.env_prefix, kafka_principal(spec)) for spec in SERVICES] + [
        (OPERATOR_PREFIX, OPERATOR_PRINCIPAL)
    ]


def _password_in(url: str | None) -> str | None:
    if not url:
        return None
    password = urlsplit(url).password
    return unquote(password) if password else None


def read_env_file(path: Path) -> dict[str, str]:
    """`KEY=value` lines (comments and blank lines skipped), in the file's order."""
    values = {}
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        name, value = stripped.split("=", 1)
        values[name.strip()] = value.strip()
    return values
