"""How a product service reaches the platform's broker: the same variables the services read.

    KAFKA_BOOTSTRAP_SERVERS     default 127.0.0.1:9092 (development's plaintext broker)
    KAFKA_SECURITY_PROTOCOL     PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL (production)
    KAFKA_SASL_MECHANISM        SCRAM-SHA-512 (default with SASL), SCRAM-SHA-256 or PLAIN
    KAFKA_SSL_CAFILE            the platform's CA (else the system's trust store)
    <PREFIX>_KAFKA_USERNAME, <PREFIX>_KAFKA_PASSWORD   the service's own principal

`KafkaSettings.from_env("PRACTICE_APP")` reads them; `security()` is the FastStream security object
for `KafkaBroker(security=...)`. A SASL protocol without a username and password is refused at
start, not discovered at the first fetch.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field

from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")
DEFAULT_SASL_MECHANISM = "SCRAM-SHA-512"
_SASL = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}


@dataclass(frozen=True)
class KafkaSettings:
    """Where the broker is and how to authenticate (the password is never in the repr)."""

    bootstrap_servers: str = "127.0.0.1:9092"
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

    def security(self) -> BaseSecurity | None:
        """FastStream's security object (None: plaintext)."""
        context = ssl.create_default_context(cafile=self.ssl_cafile) if self.uses_tls else None
        if self.uses_sasl:
            mechanism = _SASL[self.sasl_mechanism or DEFAULT_SASL_MECHANISM]
            return mechanism(
                username=self.username or "",
                password=self.password or "",
                ssl_context=context,
                use_ssl=self.uses_tls,
            )
        return BaseSecurity(ssl_context=context) if context is not None else None

    @classmethod
    def from_env(cls, prefix: str, environ: Mapping[str, str] = os.environ) -> KafkaSettings:
        """The settings the variables describe; `prefix` names the principal's variables."""
        own = prefix.upper().replace("-", "_").rstrip("_")
        return cls(
            bootstrap_servers=environ.get("KAFKA_BOOTSTRAP_SERVERS") or "127.0.0.1:9092",
            security_protocol=environ.get("KAFKA_SECURITY_PROTOCOL") or "PLAINTEXT",
            sasl_mechanism=environ.get("KAFKA_SASL_MECHANISM") or None,
            ssl_cafile=environ.get("KAFKA_SSL_CAFILE") or None,
            username=environ.get(f"{own}_KAFKA_USERNAME") or None,
            password=environ.get(f"{own}_KAFKA_PASSWORD") or None,
        )
