"""The whole local platform in one object: used by `make run`, the test session and the chaos run.

Every child it starts is watched by one supervisor, which restarts what dies (see supervisor.py).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from devstack.child import Child
from devstack.kafka import ADMIN_PRINCIPAL, KafkaSecurity, create_topics
from devstack.kafka_acls import apply_kafka_security
from devstack.kafka_cluster import KafkaCluster
from devstack.partitions import DEVELOPMENT, TopicPartitions
from devstack.pg_logins import provision_logins
from devstack.postgres import PostgresServer, create_databases
from devstack.services import SERVICES, Fleet, ServiceSpec, database_name
from devstack.smtp_sink import SmtpSink
from devstack.stripe_mock import StripeMock, wants_stripe_mock
from devstack.supervisor import RestartPolicy, Supervisor
from devstack.system import Logger
from shared.messaging.kafka_connection import KafkaConnection


@dataclass
class Ports:
    kafka: int = 9092
    kafka_controller: int = 9093
    postgres: int = 54329
    smtp: int = 8025
    stripe: int = 12111  # stripe-mock
    service_offset: int = 0  # added to each service's default port (8001..8005)

    def shifted(self, offset: int) -> Ports:
        """The same ports moved by `offset` (to run a second platform beside the first)."""
        return Ports(
            kafka=self.kafka + offset,
            kafka_controller=self.kafka_controller + offset,
            postgres=self.postgres + offset,
            smtp=self.smtp + offset,
            stripe=self.stripe + offset,
            service_offset=self.service_offset + offset,
        )


@dataclass
class Platform:
    root: Path
    ports: Ports = field(default_factory=Ports)
    durable: bool = True
    fresh: bool = False  # throw away earlier data (tests, benchmarks)
    log: Logger = print
    # Kafka nodes started (DEVSTACK_KAFKA_BROKERS; devstack.kafka_cluster): one unless told.
    kafka_brokers: int = 1
    # Each topic's partition count (devstack.partitions): 3 unless told (the production profile:
    # 12); a live topic with another count is refused, never altered.
    topic_partitions: TopicPartitions = DEVELOPMENT
    kafka: KafkaCluster | None = None
    postgres: PostgresServer | None = None
    smtp: SmtpSink | None = None
    # Start stripe-mock for billing (default: unless a real BILLING_STRIPE_API_KEY is set).
    use_stripe_mock: bool = field(default_factory=wants_stripe_mock)
    stripe_mock: StripeMock | None = None
    fleet: Fleet | None = None
    replicas: Mapping[str, int] | None = None  # per service; one each when absent
    # Services run as `api` replicas plus a `worker` process (devstack.services.worker_services;
    # `make run` and the bench: billing), and the niceness of every other service process.
    workers: Collection[str] = ()
    background_nice: int = 0
    restart_policy: RestartPolicy = field(default_factory=RestartPolicy.from_env)
    supervisor: Supervisor = field(init=False)
    database_url: str = ""
    kafka_bootstrap: str = ""
    # None: PostgreSQL trusts 127.0.0.1 (development). Set: the superuser's password, and the
    # server takes SCRAM passwords only (devstack.postgres; the services' logins: pg_logins).
    postgres_password: str | None = None
    # A secured broker (SASL_SSL, ACLs; issue 16) instead of development's plaintext one. Once it
    # answers, every principal in `kafka_passwords` gets its SCRAM credential and the broker's
    # ACLs are made equal to devstack.kafka_acls.desired_acls().
    kafka_security: KafkaSecurity | None = None
    kafka_passwords: Mapping[str, str] = field(default_factory=dict, repr=False)
    # Set (the production profile): every database login's password (devstack.pg_logins); the
    # logins and their databases are provisioned as the superuser, and the services are never
    # handed the superuser's DATABASE_URL (each gets its own logins instead).
    database_passwords: Mapping[str, str] | None = field(default=None, repr=False)
    # Use a shell's KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL instead of starting the servers
    # (development); the production profile always starts and provisions its own.
    external_servers: bool = True

    def __post_init__(self) -> None:
        self.supervisor = Supervisor(log=self.log, policy=self.restart_policy)

    def start_infrastructure(self) -> None:
        """Kafka (or KAFKA_BOOTSTRAP_SERVERS), PostgreSQL (or DATABASE_URL), the SMTP sink."""
        started = time.monotonic()
        self.supervisor.start()
        external_db = os.environ.get("DATABASE_URL") if self.external_servers else None
        if external_db:
            self.log(f"PostgreSQL: using DATABASE_URL ({external_db.split('@')[-1]})")
            self.database_url = external_db
        else:
            self.postgres = PostgresServer(
                port=self.ports.postgres,
                data_dir=self.root / "postgres" / "data",
                durable=self.durable,
                fresh=self.fresh,
                superuser_password=self.postgres_password,
            )
            self.log(f"PostgreSQL: starting on 127.0.0.1:{self.ports.postgres}")
            self.postgres.start(self.log)
            self.supervisor.watch(self.postgres.child)
            self.database_url = self.postgres.url
        if self.database_passwords is not None:
            provision_logins(self.database_url, self.database_passwords)
            self.log("PostgreSQL: password logins only; each service's owner and traffic logins set")
        else:
            asyncio.run(create_databases(self.database_url, [database_name(s) for s in SERVICES]))
        external_kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") if self.external_servers else None
        if external_kafka:
            self.log(f"Kafka: using KAFKA_BOOTSTRAP_SERVERS ({external_kafka})")
            self.kafka_bootstrap = external_kafka
            asyncio.run(create_topics(external_kafka, partitions=self.topic_partitions))
        else:
            self.kafka = KafkaCluster(
                port=self.ports.kafka,
                controller_port=self.ports.kafka_controller,
                data_root=self.root / "kafka",
                brokers=self.kafka_brokers,
                security=self.kafka_security,
                partitions=self.topic_partitions,
            )
            if self.kafka_brokers == 1:
                self.log(f"Kafka: starting KRaft node on {self.kafka.bootstrap}")
            else:
                replication = self.kafka.replication
                self.log(
                    f"Kafka: starting {self.kafka_brokers} KRaft nodes on {self.kafka.bootstrap} "
                    f"(replication factor {replication.factor}, min.insync.replicas {replication.min_insync})"
                )
            self.kafka.start(self.log)
            if self.kafka_security is not None:
                apply_kafka_security(self.kafka.admin_connection(), self.kafka_passwords)
                self.log(
                    f"Kafka: SASL_SSL; users {', '.join(sorted(self.kafka_passwords))} and their ACLs set"
                )
            for child in self.kafka.children:
                self.supervisor.watch(child)
            self.kafka_bootstrap = self.kafka.bootstrap
        self.smtp = SmtpSink(
            port=self.ports.smtp, folder=self.root / "mail", log_file=self.root / "logs" / "smtp-sink.log"
        )
        self.smtp.start()
        self.supervisor.watch(self.smtp.child)
        if self.use_stripe_mock:
            self.stripe_mock = StripeMock(
                port=self.ports.stripe, log_file=self.root / "logs" / "stripe-mock.log"
            )
            self.log(f"stripe-mock: starting on {self.stripe_mock.url}")
            self.stripe_mock.start(self.log)
            self.supervisor.watch(self.stripe_mock.child)
        self.log(f"infrastructure ready in {time.monotonic() - started:.1f}s")

    def kafka_connection(self, principal: str = ADMIN_PRINCIPAL) -> KafkaConnection:
        """How `principal` reaches this platform's broker (plaintext when it is not secured)."""
        if self.kafka is None or self.kafka.security is None:
            return KafkaConnection(self.kafka_bootstrap)
        admin = self.kafka.admin_connection()
        if principal == ADMIN_PRINCIPAL:
            return admin
        return admin.as_principal(principal, self.kafka_passwords[principal])

    def shared_env(self) -> dict[str, str]:
        """What every service gets: where the servers are. In the production profile not the
        superuser's DATABASE_URL: each service gets its own logins and Kafka settings instead."""
        env = {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.ports.smtp),
            **({"BILLING_STRIPE_API_BASE": self.stripe_mock.url} if self.stripe_mock else {}),
        }
        if self.database_passwords is None:
            env |= {"DATABASE_URL": self.database_url, "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap}
        return env

    def start_services(
        self,
        *,
        extra_env: dict[str, str] | None = None,
        own_env: Callable[[ServiceSpec], Mapping[str, str]] | None = None,
        withheld: Callable[[ServiceSpec], Collection[str]] | None = None,
    ) -> Fleet:
        """Every service's replicas (see Fleet.configure for `own_env` and `withheld`)."""
        self.fleet = Fleet.configure(
            shared_env={**self.shared_env(), **(extra_env or {})},
            log_dir=self.root / "logs",
            port_offset=self.ports.service_offset,
            replicas=self.replicas,
            supervisor=self.supervisor,
            own_env=own_env,
            withheld=withheld,
            workers=self.workers,
            background_nice=self.background_nice,
        )
        counts = ", ".join(f"{name} x{len(group)}" for name, group in self.fleet.replicas.items())
        self.log(f"services: starting {counts}")
        self.fleet.start()
        return self.fleet

    def children(self) -> dict[str, Child]:
        """Everything the platform runs, by name (`workspace-2`, `kafka` or `kafka-1`…, `postgres`,
        `smtp-sink`)."""
        servers = (self.postgres, self.smtp, self.stripe_mock)
        found = [server.child for server in servers if server is not None]
        found += self.kafka.children if self.kafka is not None else []
        if self.fleet is not None:
            found += [replica.child for replica in self.fleet.all()]
        return {child.name: child for child in found}

    def stop(self) -> None:
        """Services first (they drain), then the SMTP sink, Kafka and PostgreSQL."""
        # Restart nothing from here on, but keep the supervisor's thread alive until its children
        # are stopped: they would get their death signal, out of order, the moment it ends.
        self.supervisor.hold()
        if self.fleet:
            self.fleet.stop()
        if self.smtp:
            self.smtp.stop()
        if self.stripe_mock:
            self.stripe_mock.stop()
        if self.kafka:
            self.kafka.stop()
        if self.postgres:
            self.postgres.stop()
        self.supervisor.close()
