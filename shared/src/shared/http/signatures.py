"""Webhook signature headers, read strictly and verified on the raw body, for every provider.

Two schemes:
- **timestamped HMAC** (Stripe's `Stripe-Signature`, and Skool's `Skool-Signature` built on it):
  `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>[,v1=…]`; other schemes'
  entries (Stripe's `v0=`) are allowed and ignored.
- **Svix** (the auth provider): `svix-id`, `svix-timestamp`, and `svix-signature` =
  space-separated `v1,<base64 HMAC-SHA256(key, "<id>.<t>.<raw body>")>` entries (other versions
  ignored), the key being the base64 after `whsec_` of the secret.

Everything a header holds is checked before use: printable ASCII only (a header's other bytes
arrive as latin-1 characters), bounded lengths, a timestamp of 1 to 12 decimal digits, v1 digests
of exactly 32 bytes in strict hex or base64. Whatever is wrong raises `BadSignature` (with the
reason it is counted under), never anything else: a service maps it to its own
`invalid_signature` answer. Every candidate is compared in constant time, with no early exit.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass

# Why a signature was refused (the rejection counters' reasons).
MISSING = "missing_signature"
MALFORMED = "malformed_signature"
STALE = "stale_timestamp"
MISMATCH = "signature_mismatch"
REASONS = (MISSING, MALFORMED, STALE, MISMATCH)

MAX_HEADER_CHARS = 2048
MAX_ID_CHARS = 256
_DIGEST_BYTES = 32  # HMAC-SHA256
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
_BASE64_DIGEST = re.compile(r"[A-Za-z0-9+/]{43}=")
_NAME = re.compile(r"[A-Za-z0-9_]{1,16}")


class BadSignature(ValueError):
    """A signature header that is missing, malformed, stale or does not match the body."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


@dataclass(frozen=True)
class TimestampedSignature:
    """A parsed `t=…,v1=…` header: the signed time and the v1 digests it offers."""

    timestamp: int
    digests: tuple[bytes, ...]


# --- reading headers ----------------------------------------------------------------------------


def header_text(value: str | None, *, name: str, max_chars: int = MAX_HEADER_CHARS) -> str:
    """The header's value if present, printable ASCII and at most `max_chars` long."""
    if not value:
        raise BadSignature(f"the {name} header is missing", reason=MISSING)
    if len(value) > max_chars or not _PRINTABLE_ASCII.fullmatch(value):
        raise BadSignature(
            f"the {name} header must be printable ASCII of at most {max_chars} characters",
            reason=MALFORMED,
        )
    return value


def parse_timestamp(value: str, *, name: str) -> int:
    """Unix seconds written as 1 to 12 decimal digits (ASCII: `²` is a digit to str.isdigit)."""
    if not _TIMESTAMP.fullmatch(value):
        raise BadSignature(f"{name} must be a unix time of at most 12 digits", reason=MALFORMED)
    return int(value)


def parse_timestamped(header: str | None, *, name: str) -> TimestampedSignature:
    """`t=<unix>,v1=<64 hex>[,v1=…]` (entries of other schemes ignored), else BadSignature."""
    text = header_text(header, name=name)
    expected = f"{name} must read t=<unix time>,v1=<hex digest>"
    timestamp: int | None = None
    digests: list[bytes] = []
    for part in text.split(","):
        key, separator, value = part.strip().partition("=")
        if not separator or not _NAME.fullmatch(key):
            raise BadSignature(expected, reason=MALFORMED)
        if key == "t":
            if timestamp is not None:
                raise BadSignature(f"{name} has two timestamps", reason=MALFORMED)
            timestamp = parse_timestamp(value, name=f"{name}'s t")
        elif key == "v1":
            if not _HEX_DIGEST.fullmatch(value):
                raise BadSignature(f"{name}'s v1 must be 64 hex digits", reason=MALFORMED)
            digests.append(bytes.fromhex(value))
    if timestamp is None or not digests:
        raise BadSignature(expected, reason=MALFORMED)
    return TimestampedSignature(timestamp=timestamp, digests=tuple(digests))


def parse_svix_signatures(header: str | None, *, name: str = "svix-signature") -> tuple[bytes, ...]:
    """The v1 digests of space-separated `<version>,<base64>` entries, else BadSignature."""
    text = header_text(header, name=name)
    digests: list[bytes] = []
    for entry in text.split():
        version, separator, value = entry.partition(",")
        if not separator or not _NAME.fullmatch(version) or not value:
            raise BadSignature(f"{name} must hold v1,<base64 digest> entries", reason=MALFORMED)
        if version == "v1":
            if not _BASE64_DIGEST.fullmatch(value):
                raise BadSignature(f"{name}'s v1 must be a base64 SHA-256 digest", reason=MALFORMED)
            digests.append(base64.b64decode(value, validate=True))
    if not digests:
        raise BadSignature(f"{name} has no v1 signature", reason=MALFORMED)
    return tuple(digests)


def svix_key(secret: str) -> bytes:
    """The HMAC key of a Svix secret (`whsec_<base64>`, as the Svix libraries read it)."""
    encoded = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(encoded + "==")
    except (binascii.Error, ValueError) as error:  # a configuration error, not the sender's
        raise ValueError("the Svix secret is not whsec_<base64>") from error


# --- verifying ----------------------------------------------------------------------------------


def hmac_sha256(key: bytes, *parts: bytes) -> bytes:
    """HMAC-SHA256 of the parts joined with `.` (the schemes' signed payloads)."""
    return hmac.new(key, b".".join(parts), hashlib.sha256).digest()


def matches_any(expected: bytes, candidates: Iterable[bytes]) -> bool:
    """Whether any candidate is `expected`: each compared in constant time, none skipped."""
    matched = [hmac.compare_digest(expected, candidate) for candidate in candidates]
    return any(matched)


def check_fresh(timestamp: int, *, now: float, tolerance_seconds: float) -> None:
    if abs(now - timestamp) > tolerance_seconds:
        raise BadSignature(
            f"the signed timestamp is more than {tolerance_seconds:g} s from now", reason=STALE
        )


def verify_timestamped(
    *, secret: str, header: str | None, name: str, body: bytes, now: float, tolerance_seconds: float
) -> int:
    """Check a `t=…,v1=…` header against the raw body; returns its timestamp."""
    signature = parse_timestamped(header, name=name)
    check_fresh(signature.timestamp, now=now, tolerance_seconds=tolerance_seconds)
    expected = hmac_sha256(secret.encode(), str(signature.timestamp).encode(), body)
    if not matches_any(expected, signature.digests):
        raise BadSignature("the signature does not match the body", reason=MISMATCH)
    return signature.timestamp


def sign_timestamped(*, secret: str, timestamp: int, body: bytes) -> str:
    """The `t=…,v1=…` header a sender computes (tests, examples)."""
    digest = hmac_sha256(secret.encode(), str(timestamp).encode(), body)
    return f"t={timestamp},v1={digest.hex()}"


def verify_svix(
    *,
    key: bytes,
    message_id: str | None,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
    tolerance_seconds: float,
) -> str:
    """Check the three `svix-*` headers against the raw body; returns the delivery id."""
    delivery_id = header_text(message_id, name="svix-id", max_chars=MAX_ID_CHARS)
    signed_at = parse_timestamp(header_text(timestamp, name="svix-timestamp"), name="svix-timestamp")
    digests = parse_svix_signatures(signature)
    check_fresh(signed_at, now=now, tolerance_seconds=tolerance_seconds)
    expected = hmac_sha256(key, delivery_id.encode(), str(signed_at).encode(), body)
    if not matches_any(expected, digests):
        raise BadSignature("no signature matches the body", reason=MISMATCH)
    return delivery_id
