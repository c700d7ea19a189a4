"""A service process refuses to start on unsafe settings, before it connects to anything
(issue 16, "Fail closed"): no explicit PLATFORM_ENVIRONMENT, or outside development a secret that
is empty, shorter than 32 bytes or a published development value. It says which variable, never
the value, and exits non-zero.

Each service is started for real (`python -m <service>`), pointed at a database and a broker
address that are sockets of this test: nothing may knock on them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from devstack.services import SERVICES, ServiceSpec
from shared.settings import DEV_AUTH_WEBHOOK_SECRET, MIN_SECRET_BYTES

STRONG = "s" * MIN_SECRET_BYTES
# Every secret of every service, strong: each case below spoils one.
SAFE_SECRETS = {
    "PLATFORM_SERVICE_KEY": STRONG + "-service",
    "PLATFORM_TOKEN_MINT_KEY": STRONG + "-mint",
    "PLATFORM_OPERATOR_KEY": STRONG + "-operator",
    "IDENTITY_AUTH_WEBHOOK_SECRET": "whsec_" + "c3Ryb25nLWF1dGgtd2ViaG9vay1zZWNyZXQtMDAwMDAw",
    "IDENTITY_SIGNING_KEY_PASSPHRASE": STRONG + "-passphrase",
    "BILLING_STRIPE_WEBHOOK_SECRET": "whsec_" + STRONG,
    "BILLING_STRIPE_API_KEY": "sk_live_" + STRONG,
    "SKOOL_INGEST_WEBHOOK_SECRET": STRONG + "-skool",
    # The bus as production has it: SASL_SSL, SCRAM, each service its own principal.
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SSL_CAFILE": __file__,  # any existing file: nothing may connect, so nothing reads it
    **{
        f"{spec.env_prefix}_KAFKA_{field}": f"{spec.name}-{STRONG}" if field == "PASSWORD" else spec.name
        for spec in SERVICES
        for field in ("USERNAME", "PASSWORD")
    },
}


@contextmanager
def listeners(count: int) -> Iterator[list[socket.socket]]:
    """Listening sockets nobody should connect to."""
    opened = []
    try:
        for _ in range(count):
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen(8)
            listener.setblocking(False)
            opened.append(listener)
        yield opened
    finally:
        for listener in opened:
            listener.close()


def knocked(listener: socket.socket) -> bool:
    try:
        connection, _ = listener.accept()
    except BlockingIOError:
        return False
    connection.close()
    return True


def start(
    package: str, extra: dict[str, str], *, login: str = "backbone"
) -> subprocess.CompletedProcess[str]:
    """Run `python -m package` with `extra` over a cleaned environment; DATABASE_URL logs in as
    `login` (`user` or `user:password`) at a socket of this test."""
    with listeners(2) as (database, broker):
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(
                ("PLATFORM_", "IDENTITY_", "BILLING_", "SKOOL_INGEST_", "WORKSPACE_", "INVITES_", "KAFKA_")
            )
        }
        env |= {
            "DATABASE_URL": f"postgresql://{login}@127.0.0.1:{database.getsockname()[1]}/postgres",
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{broker.getsockname()[1]}",
            **extra,
        }
        finished = subprocess.run(
            [sys.executable, "-m", package], env=env, capture_output=True, text=True, timeout=60
        )
        assert not knocked(database), "it connected to the database"
        assert not knocked(broker), "it connected to the broker"
    return finished


@pytest.mark.parametrize("spec", SERVICES, ids=[spec.name for spec in SERVICES])
def test_no_environment_stops_every_service_before_it_connects(spec: ServiceSpec) -> None:
    finished = start(spec.package, {})

    assert finished.returncode == 2, finished.stderr
    assert "refusing to start: PLATFORM_ENVIRONMENT is not set" in finished.stderr


@pytest.mark.parametrize(
    ("package", "variable", "value", "problem"),
    [
        (
            "identity",
            "IDENTITY_AUTH_WEBHOOK_SECRET",
            DEV_AUTH_WEBHOOK_SECRET,
            "holds a published development value",
        ),
        (
            "billing",
            "BILLING_STRIPE_API_KEY",
            "sk_test_shortish",
            f"is shorter than {MIN_SECRET_BYTES} bytes",
        ),
        ("workspace", "PLATFORM_SERVICE_KEY", "", "is empty"),
        (
            "skool_ingest",
            "PLATFORM_OPERATOR_KEY",
            "dev-skool-webhook-secret",
            "holds a published development value",
        ),
    ],
)
def test_an_unsafe_secret_in_production_stops_the_service_naming_the_variable_only(
    package: str, variable: str, value: str, problem: str
) -> None:
    finished = start(package, {**SAFE_SECRETS, "PLATFORM_ENVIRONMENT": "production", variable: value})

    assert finished.returncode == 2, finished.stderr
    assert f"refusing to start: {variable} {problem}" in finished.stderr
    if value:
        assert value not in finished.stderr + finished.stdout


@pytest.mark.parametrize(
    ("package", "variable", "value", "problem"),
    [
        ("billing", "KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", "is PLAINTEXT: production needs SASL_SSL"),
        (
            "invites",
            "KAFKA_SECURITY_PROTOCOL",
            "SASL_PLAINTEXT",
            "is SASL_PLAINTEXT: production needs SASL_SSL",
        ),
        (
            "identity",
            "IDENTITY_KAFKA_PASSWORD",
            "dev-service-key-change-me",
            "holds a published development value",
        ),
        ("workspace", "WORKSPACE_KAFKA_PASSWORD", "kafka-pw-9", f"is shorter than {MIN_SECRET_BYTES} bytes"),
    ],
)
def test_an_open_bus_or_a_weak_kafka_password_in_production_stops_the_service(
    package: str, variable: str, value: str, problem: str
) -> None:
    """Issue 16, item 2: in production a service refuses a plaintext or unauthenticated Kafka
    connection, and its Kafka password is a secret like the others."""
    # A database login production accepts, so that only the bus can be what is refused.
    production = {**SAFE_SECRETS, "PLATFORM_ENVIRONMENT": "production", variable: value}
    finished = start(package, production, login=f"{package}_app:{STRONG}")

    assert finished.returncode == 2, finished.stderr
    assert f"refusing to start: {variable} {problem}" in finished.stderr
    if variable.endswith("_PASSWORD"):
        assert value not in finished.stderr + finished.stdout
