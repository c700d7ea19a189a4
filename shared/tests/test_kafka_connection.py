"""KafkaConnection: one description of how a client reaches the broker, read from the variables
every service and the operator tools share (issue 16, "Kafka: authenticated, encrypted")."""

from __future__ import annotations

import ssl

import pytest

from shared.messaging.kafka_connection import KafkaConnection, as_connection


def test_a_bare_address_is_a_plaintext_connection_with_no_credentials() -> None:
    assert as_connection("127.0.0.1:19092").client_kwargs() == {
        "bootstrap_servers": "127.0.0.1:19092",
        "security_protocol": "PLAINTEXT",
    }


def test_sasl_ssl_carries_the_credentials_and_a_context_that_checks_the_host() -> None:
    connection = KafkaConnection(
        "127.0.0.1:9093", security_protocol="SASL_SSL", username="billing", password="p" * 40
    )

    kwargs = connection.client_kwargs()

    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"  # the platform's, when none is named
    assert (kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == ("billing", "p" * 40)
    context = kwargs["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED


def test_the_password_is_never_in_its_repr() -> None:
    connection = KafkaConnection("b:1", security_protocol="SASL_SSL", username="u", password="hunter2-secret")
    assert "hunter2" not in repr(connection)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"security_protocol": "SASL_SSL", "username": "billing"}, "needs a Kafka username and password"),
        ({"security_protocol": "SASL_PLAINTEXT", "password": "x"}, "needs a Kafka username and password"),
        ({"security_protocol": "TLS"}, "KAFKA_SECURITY_PROTOCOL must be one of"),
        (
            {"security_protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI"},
            "KAFKA_SASL_MECHANISM must be one of",
        ),
    ],
)
def test_a_connection_that_cannot_authenticate_is_refused_when_made(
    fields: dict[str, str], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        KafkaConnection("b:1", **fields)


def test_from_env_reads_the_shared_variables_and_the_principal_s_own() -> None:
    environ = {
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SSL_CAFILE": "/etc/kafka/ca.pem",
        "SKOOL_INGEST_KAFKA_USERNAME": "skool-ingest",
        "SKOOL_INGEST_KAFKA_PASSWORD": "s" * 40,
        "OPERATOR_KAFKA_USERNAME": "operator",
        "OPERATOR_KAFKA_PASSWORD": "o" * 40,
    }

    assert KafkaConnection.from_env("skool-ingest", environ) == KafkaConnection(
        "127.0.0.1:9092",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        ssl_cafile="/etc/kafka/ca.pem",
        username="skool-ingest",
        password="s" * 40,
    )
    assert KafkaConnection.from_env("OPERATOR", environ).username == "operator"


def test_from_env_without_a_protocol_is_development_s_plaintext_broker() -> None:
    assert KafkaConnection.from_env("OPERATOR", {}) == KafkaConnection("127.0.0.1:9092")


def test_to_env_writes_what_from_env_reads() -> None:
    connection = KafkaConnection(
        "127.0.0.1:9092",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        ssl_cafile="/etc/kafka/ca.pem",
        username="skool-ingest",
        password="s" * 40,
    )

    environ = connection.to_env("skool-ingest")

    assert environ["SKOOL_INGEST_KAFKA_USERNAME"] == "skool-ingest"
    assert KafkaConnection.from_env("SKOOL_INGEST", environ) == connection
    assert KafkaConnection("b:1").to_env("billing") == {
        "KAFKA_BOOTSTRAP_SERVERS": "b:1",
        "KAFKA_SECURITY_PROTOCOL": "PLAINTEXT",
    }
