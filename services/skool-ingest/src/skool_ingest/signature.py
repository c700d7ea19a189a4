"""`Skool-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` (API.md).

The scheme is Stripe's, read and checked by shared.http.signatures (strictly: ASCII only,
bounded lengths, a timestamp of at most 12 digits, 64-hex-digit digests). Several `v1=` entries
may be given (a secret being rotated): one match is enough; each is compared in constant time.
"""

from __future__ import annotations

from shared.http.signatures import (
    MALFORMED,
    MISMATCH,
    MISSING,
    REASONS,
    STALE,
    BadSignature,
    sign_timestamped,
    verify_timestamped,
)
from skool_ingest.errors import InvalidSignature

HEADER = "Skool-Signature"
__all__ = [
    "HEADER",
    "MALFORMED",
    "MISMATCH",
    "MISSING",
    "REASONS",
    "STALE",
    "SignatureRejected",
    "sign",
    "verify_signature",
]


class SignatureRejected(InvalidSignature):
    """InvalidSignature with the reason it is counted under."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def sign(*, secret: str, timestamp: int, body: bytes) -> str:
    """The header value a sender computes (used by tests and the README's example)."""
    return sign_timestamped(secret=secret, timestamp=timestamp, body=body)


def verify_signature(
    *, secret: str, header: str | None, body: bytes, now: float, tolerance_seconds: int
) -> int:
    """Check the header against the raw body; returns its timestamp, else SignatureRejected."""
    try:
        return verify_timestamped(
            secret=secret, header=header, name=HEADER, body=body, now=now, tolerance_seconds=tolerance_seconds
        )
    except BadSignature as error:
        raise SignatureRejected(error.message, reason=error.reason) from error
