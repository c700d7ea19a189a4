"""ensure_tls: a CA and a broker certificate that names the hosts clients dial, made once, reused
while valid, replaced when the hosts change; private keys readable by their owner only."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509

from devstack.kafka_tls import BROKER_COMMON_NAME, ensure_tls


def names(path: Path) -> set[str]:
    certificate = x509.load_pem_x509_certificate(path.read_bytes())
    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} | set(
        san.get_values_for_type(x509.DNSName)
    )


def test_the_broker_certificate_names_the_hosts_and_is_signed_by_the_ca(tmp_path: Path) -> None:
    files = ensure_tls(tmp_path, ("127.0.0.1", "localhost"), environ={})

    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    broker = x509.load_pem_x509_certificate(files.broker_cert.read_bytes())
    broker.verify_directly_issued_by(ca)
    assert names(files.broker_cert) == {"127.0.0.1", "localhost"}
    assert broker.subject.rfc4514_string() == f"CN={BROKER_COMMON_NAME}"
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_private_keys_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    files = ensure_tls(tmp_path, environ={})

    for key in (files.broker_key, tmp_path / "ca-key.pem"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key


def test_files_are_reused_while_valid_and_the_broker_certificate_is_remade_for_new_hosts(
    tmp_path: Path,
) -> None:
    first = ensure_tls(tmp_path, environ={})
    ca_before, broker_before = first.ca_cert.read_bytes(), first.broker_cert.read_bytes()

    again = ensure_tls(tmp_path, environ={})
    assert (again.ca_cert.read_bytes(), again.broker_cert.read_bytes()) == (ca_before, broker_before)

    moved = ensure_tls(tmp_path, ("127.0.0.1", "localhost", "kafka"), environ={})
    assert moved.ca_cert.read_bytes() == ca_before  # the CA clients trust stays
    assert moved.broker_cert.read_bytes() != broker_before
    assert names(moved.broker_cert) == {"127.0.0.1", "localhost", "kafka"}


def test_an_operator_supplied_ca_signs_the_broker_certificate(tmp_path: Path) -> None:
    theirs = ensure_tls(tmp_path / "operator", environ={})
    environ = {
        "DEVSTACK_KAFKA_CA_CERT": str(theirs.ca_cert),
        "DEVSTACK_KAFKA_CA_KEY": str(tmp_path / "operator" / "ca-key.pem"),
    }

    files = ensure_tls(tmp_path / "platform", environ=environ)

    assert files.ca_cert == theirs.ca_cert
    assert not (tmp_path / "platform" / "ca.pem").exists()
    ca = x509.load_pem_x509_certificate(theirs.ca_cert.read_bytes())
    x509.load_pem_x509_certificate(files.broker_cert.read_bytes()).verify_directly_issued_by(ca)


def test_half_an_operator_ca_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="DEVSTACK_KAFKA_CA_CERT and DEVSTACK_KAFKA_CA_KEY"):
        ensure_tls(tmp_path, environ={"DEVSTACK_KAFKA_CA_CERT": "/somewhere/ca.pem"})
