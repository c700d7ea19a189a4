"""Which platform `devstack run` starts: `DEVSTACK_PROFILE=development` (the default) or `production`.

The production profile is the same platform with its production posture (docs/security.md):
Kafka on SASL_SSL (SCRAM-SHA-512, TLS from the platform's CA, ACLs derived from the code, no
ACL = denied), PostgreSQL with password logins only (one owner and one traffic login per
service, no service on a superuser), every service in `PLATFORM_ENVIRONMENT=production` with
fresh random secrets from `secrets.env` (devstack.production_secrets), each service given only
its own. Same HTTP ports as development; its files live in `.local/production`, apart from the
development platform's data.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from devstack.kafka import KafkaSecurity
from devstack.kafka_cluster import bootstrap_of, broker_count
from devstack.kafka_tls import ensure_tls
from devstack.partitions import production_partitions
from devstack.paths import local_dir
from devstack.platform import Platform, Ports
from devstack.production_secrets import (
    FILE_NAME,
    KAFKA_ADMIN_PASSWORD,
    POSTGRES_SUPERUSER_PASSWORD,
    Endpoints,
    ProductionSecrets,
    read_env_file,
)
from devstack.services import Fleet, ServiceSpec, background_niceness, replica_counts, worker_services
from devstack.system import Logger

Profile = Literal["development", "production"]
PROFILE_VARIABLE = "DEVSTACK_PROFILE"
PROFILES: tuple[Profile, ...] = ("development", "production")
# What the local servers' certificate names: the addresses clients use here.
LOCAL_HOSTS = ("127.0.0.1", "localhost")


def profile_of(environ: Mapping[str, str] = os.environ) -> Profile:
    """`DEVSTACK_PROFILE` (development when unset); anything else is refused, not guessed."""
    value = environ.get(PROFILE_VARIABLE) or "development"
    for known in PROFILES:
        if value == known:
            return known
    raise ValueError(f"{PROFILE_VARIABLE}={value!r}: expected one of {', '.join(PROFILES)}")


def production_root() -> Path:
    """Where `DEVSTACK_PROFILE=production make run` keeps its data, certificates and secrets."""
    return local_dir() / "production"


def secrets_file(root: Path | None = None) -> Path:
    return (root or production_root()) / FILE_NAME


@dataclass
class ProductionPlatform:
    """A platform in the production profile and the secrets it runs on."""

    platform: Platform
    secrets: ProductionSecrets

    def start(self) -> Fleet:
        """Kafka, PostgreSQL (logins, databases, users and ACLs provisioned), the SMTP sink,
        stripe-mock, then the services (`start_services`)."""
        self.platform.start_infrastructure()
        return self.start_services()

    def start_services(self, *, overrides: Mapping[str, str] | None = None) -> Fleet:
        """The services in production, each with only its own credentials. `overrides` replace
        some of the file's values for every service (the bench signs with secrets of its own)."""
        return self.platform.start_services(
            extra_env={"PLATFORM_ENVIRONMENT": "production"},
            own_env=lambda spec: {**self.secrets.service_env(spec), **(overrides or {})},
            withheld=self._withheld,
        )

    def _withheld(self, spec: ServiceSpec) -> set[str]:
        # Another service's credentials, the platform's own bootstrap passwords, and a
        # superuser DATABASE_URL a shell may hold: none of them reaches a service process.
        return self.secrets.foreign_variables(spec) | {"DATABASE_URL"}


def production_platform(
    *, root: Path, offset: int, log: Logger, fresh: bool = False, durable: bool = True
) -> ProductionPlatform:
    """The production profile's platform on `make run`'s ports moved by `offset`, files in `root`;
    its secrets read from `root/secrets.env` or generated there on first start. `fresh` and
    `durable` as for Platform (the test of the profile throws its data away)."""
    ports = Ports().shifted(offset)
    brokers = broker_count()
    # Every node listens on 127.0.0.1 (its own port): the one certificate names them all.
    tls = ensure_tls(root / "tls", hosts=LOCAL_HOSTS)
    endpoints = Endpoints(
        kafka_bootstrap=bootstrap_of(ports.kafka, brokers),
        postgres_host_port=f"127.0.0.1:{ports.postgres}",
        ca_file=tls.ca_cert,
    )
    secrets = ProductionSecrets.load_or_create(root, endpoints)
    log(f"production profile: secrets and client settings in {secrets.path} (mode 0600)")
    platform = Platform(
        root=root,
        ports=ports,
        log=log,
        fresh=fresh,
        durable=durable,
        kafka_brokers=brokers,
        topic_partitions=production_partitions(),
        replicas=replica_counts(),
        workers=worker_services(),
        background_nice=background_niceness(),
        use_stripe_mock=True,  # no Stripe account here: the generated test key is stripe-mock's
        external_servers=False,  # never a shell's KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL
        kafka_security=KafkaSecurity(tls=tls, admin_password=secrets.values[KAFKA_ADMIN_PASSWORD]),
        kafka_passwords=secrets.kafka_passwords(),
        postgres_password=secrets.values[POSTGRES_SUPERUSER_PASSWORD],
        database_passwords=secrets.database_passwords(),
    )
    return ProductionPlatform(platform=platform, secrets=secrets)


def operator_environment(root: Path | None = None, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """For `devstack` commands under `DEVSTACK_PROFILE=production`: the secrets file's values
    beneath the shell's (a value the shell sets wins); empty in development."""
    path = secrets_file(root)
    if profile_of(environ) != "production" or not path.exists():
        return {}
    return {name: value for name, value in read_env_file(path).items() if name not in environ}
