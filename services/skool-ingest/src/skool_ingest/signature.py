"""`Skool-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` (API.md).

Several `v1=` entries may be given (a secret being rotated): one match is enough. Compared in
constant time.
"""

from __future__ import annotations

import hashlib
import hmac

from skool_ingest.errors import InvalidSignature

HEADER = "Skool-Signature"
# Why a delivery was refused: the rejection counter's reasons for a 401.
MISSING = "missing_signature"
MALFORMED = "malformed_signature"
STALE = "stale_timestamp"
MISMATCH = "signature_mismatch"
REASONS = (MISSING, MALFORMED, STALE, MISMATCH)


class SignatureRejected(InvalidSignature):
    """InvalidSignature with the reason it is counted under."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def sign(*, secret: str, timestamp: int, body: bytes) -> str:
    """The header value a sender computes (used by tests and the README's example)."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify_signature(
    *, secret: str, header: str | None, body: bytes, now: float, tolerance_seconds: int
) -> int:
    """Check the header against the raw body; returns its timestamp, else SignatureRejected."""
    if not header:
        raise SignatureRejected(f"the {HEADER} header is missing", reason=MISSING)
    timestamp, candidates = _parse(header)
    if abs(now - timestamp) > tolerance_seconds:
        raise SignatureRejected(
            f"the signed timestamp is more than {tolerance_seconds} s from now", reason=STALE
        )
    expected = _digest(secret, timestamp, body)
    # Every candidate is compared (no early exit), each in constant time.
    matched = [hmac.compare_digest(expected, candidate) for candidate in candidates]
    if not any(matched):
        raise SignatureRejected("the signature does not match the body", reason=MISMATCH)
    return timestamp


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value.lower())
    if timestamp is None or not candidates:
        raise SignatureRejected(f"{HEADER} must read t=<unix time>,v1=<hex digest>", reason=MALFORMED)
    return timestamp, candidates
