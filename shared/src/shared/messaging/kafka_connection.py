"""How a Kafka client reaches and authenticates to the broker: one value for every client.

Development and the test platform use a plaintext broker (`KafkaConnection("127.0.0.1:9092")`);
production uses `SASL_SSL` with `SCRAM-SHA-512` over TLS from the platform's CA. Every aiokafka
client the services and the operator tools make is built from `client_kwargs()`, so no client can
forget the credentials or the CA (issue 16, "Kafka: authenticated, encrypted, least privilege").

The variables (the same names in every service, compose and the production profile):

    KAFKA_BOOTSTRAP_SERVERS, KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM, KAFKA_SSL_CAFILE,
    <PREFIX>_KAFKA_USERNAME, <PREFIX>_KAFKA_PASSWORD     (operator tools: prefix OPERATOR)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka.helpers import create_ssl_context

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")
# When a SASL protocol names no mechanism: the one the platform's broker enables.
DEFAULT_SASL_MECHANISM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class KafkaConnection:
    """Where the broker is and how to authenticate to it (never printed with its password)."""

    bootstrap_servers: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    ssl_cafile: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.security_protocol not in PROTOCOLS:
            raise ValueError(f"KAFKA_SECURITY_PROTOCOL must be one of {', '.join(PROTOCOLS)}")
        if self.sasl_mechanism is not None and self.sasl_mechanism not in MECHANISMS:
            raise ValueError(f"KAFKA_SASL_MECHANISM must be one of {', '.join(MECHANISMS)}")
        if self.uses_sasl and not (self.username and self.password):
            raise ValueError(f"{self.security_protocol} needs a Kafka username and password")

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def mechanism(self) -> str | None:
        """The SASL mechanism in use (SCRAM-SHA-512 when SASL names none), else None."""
        return (self.sasl_mechanism or DEFAULT_SASL_MECHANISM) if self.uses_sasl else None

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for AIOKafkaProducer, AIOKafkaConsumer and AIOKafkaAdminClient."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if self.uses_tls:
            # Verifies the broker's certificate and that it names the host dialled (the default
            # context checks hostnames); without a CA file, the system's trust store.
            kwargs["ssl_context"] = create_ssl_context(cafile=self.ssl_cafile)
        if self.uses_sasl:
            kwargs["sasl_mechanism"] = self.mechanism
            kwargs["sasl_plain_username"] = self.username
            kwargs["sasl_plain_password"] = self.password
        return kwargs

    def as_principal(self, username: str, password: str) -> KafkaConnection:
        """The same broker and transport, authenticated as another principal."""
        return KafkaConnection(
            bootstrap_servers=self.bootstrap_servers,
            security_protocol=self.security_protocol,
            sasl_mechanism=self.sasl_mechanism,
            ssl_cafile=self.ssl_cafile,
            username=username,
            password=password,
        )

    @classmethod
    def from_env(cls, prefix: str, environ: Mapping[str, str] = os.environ) -> KafkaConnection:
        """The connection the variables describe; `prefix` names the principal's variables
        (`BILLING` reads BILLING_KAFKA_USERNAME / BILLING_KAFKA_PASSWORD; `skool-ingest` works too)."""
        own = prefix.upper().replace("-", "_").rstrip("_")
        return cls(
            bootstrap_servers=environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
            security_protocol=environ.get("KAFKA_SECURITY_PROTOCOL") or "PLAINTEXT",
            sasl_mechanism=environ.get("KAFKA_SASL_MECHANISM") or None,
            ssl_cafile=environ.get("KAFKA_SSL_CAFILE") or None,
            username=environ.get(f"{own}_KAFKA_USERNAME") or None,
            password=environ.get(f"{own}_KAFKA_PASSWORD") or None,
        )

    def to_env(self, prefix: str) -> dict[str, str]:
        """The variables `from_env(prefix)` reads back into this connection (for a service's
        environment or a secrets file); unset fields are left out."""
        own = prefix.upper().replace("-", "_").rstrip("_")
        found = {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "KAFKA_SECURITY_PROTOCOL": self.security_protocol,
            "KAFKA_SASL_MECHANISM": self.sasl_mechanism,
            "KAFKA_SSL_CAFILE": self.ssl_cafile,
            f"{own}_KAFKA_USERNAME": self.username,
            f"{own}_KAFKA_PASSWORD": self.password,
        }
        return {name: value for name, value in found.items() if value is not None}


KafkaTarget = str | KafkaConnection
"""What a function that makes a Kafka client accepts: a full connection, or a bare bootstrap
address (a plaintext broker: development, the test platform)."""


def as_connection(target: KafkaTarget) -> KafkaConnection:
    """`target` as a KafkaConnection (a bare address is a plaintext one)."""
    return target if isinstance(target, KafkaConnection) else KafkaConnection(bootstrap_servers=target)
