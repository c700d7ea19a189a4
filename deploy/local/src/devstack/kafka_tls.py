"""TLS for a secured Kafka broker: a CA and a broker certificate naming the hosts clients dial.

The CA is generated on first use into `folder` (or supplied by the operator: DEVSTACK_KAFKA_CA_CERT
and DEVSTACK_KAFKA_CA_KEY, PEM files), and signs a broker certificate whose subject alternative
names are `hosts` (IP entries for addresses, DNS entries for names), so clients verify both the
chain and the host name. Files are reused while they still hold: a broker certificate signed by
the current CA, naming every host, valid for at least another day. Private keys are mode 0600.

The broker certificate serves both ends of the broker's own connections: the client listener
(server authentication) and the controller listener, where `ssl.client.auth=required` admits
only a client presenting a certificate from this CA — in practice, the broker itself (its
principal `User:CN=kafka-broker` is a super user).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

BROKER_COMMON_NAME = "kafka-broker"
BROKER_PRINCIPAL = f"User:CN={BROKER_COMMON_NAME}"
CA_COMMON_NAME = "backbone local Kafka CA"
CA_DAYS = 3650
BROKER_DAYS = 397
# A broker certificate expiring sooner than this is replaced at the next start.
RENEW_BEFORE = datetime.timedelta(days=1)
DEFAULT_HOSTS = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class TlsFiles:
    """PEM files: the CA clients trust, the broker's certificate (leaf only) and its private key."""

    ca_cert: Path
    broker_cert: Path
    broker_key: Path


def ensure_tls(
    folder: Path, hosts: Sequence[str] = DEFAULT_HOSTS, environ: Mapping[str, str] = os.environ
) -> TlsFiles:
    """The CA and broker certificate in `folder`, made or renewed as needed (see the module)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_cert_path, ca_key_path = _ensure_ca(folder, environ)
    files = TlsFiles(
        ca_cert=ca_cert_path, broker_cert=folder / "broker.pem", broker_key=folder / "broker-key.pem"
    )
    ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
    if not _broker_still_valid(files, ca_cert, hosts):
        ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise ValueError(f"{ca_key_path}: the CA key must be an EC or RSA private key")
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = _broker_certificate(key, ca_cert, ca_key, hosts)
        _write_private(files.broker_key, _pem_key(key))
        files.broker_cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return files


def _ensure_ca(folder: Path, environ: Mapping[str, str]) -> tuple[Path, Path]:
    """The operator's CA when both variables name one, else this folder's (made once)."""
    supplied_cert, supplied_key = environ.get("DEVSTACK_KAFKA_CA_CERT"), environ.get("DEVSTACK_KAFKA_CA_KEY")
    if supplied_cert or supplied_key:
        if not (supplied_cert and supplied_key):
            raise ValueError("set both DEVSTACK_KAFKA_CA_CERT and DEVSTACK_KAFKA_CA_KEY, or neither")
        return Path(supplied_cert), Path(supplied_key)
    cert_path, key_path = folder / "ca.pem", folder / "ca-key.pem"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_COMMON_NAME)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(key_path, _pem_key(key))
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def _broker_certificate(
    key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    hosts: Sequence[str],
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, BROKER_COMMON_NAME)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(min(now + datetime.timedelta(days=BROKER_DAYS), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        # Server for clients, client towards its own controller listener (mutual TLS there).
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(_names(hosts)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    return builder.sign(ca_key, hashes.SHA256())


def _broker_still_valid(files: TlsFiles, ca_cert: x509.Certificate, hosts: Sequence[str]) -> bool:
    if not (files.broker_cert.exists() and files.broker_key.exists()):
        return False
    try:
        certificate = x509.load_pem_x509_certificate(files.broker_cert.read_bytes())
        certificate.verify_directly_issued_by(ca_cert)
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, x509.ExtensionNotFound, InvalidSignature):
        return False
    fresh = certificate.not_valid_after_utc - datetime.datetime.now(datetime.UTC) > RENEW_BEFORE
    return fresh and set(_names(hosts)) <= set(names)


def _names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    # PKCS#8, unencrypted: the form Kafka's PEM keystore reads without a key password.
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_private(path: Path, data: bytes) -> None:
    """Write a private key readable by its owner only (created 0600, never world-readable)."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
