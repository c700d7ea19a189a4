"""`Skool-Signature` verification, without the platform."""

from __future__ import annotations

import pytest

from skool_ingest.signature import (
    MALFORMED,
    MISMATCH,
    MISSING,
    STALE,
    SignatureRejected,
    sign,
    verify_signature,
)

SECRET, BODY, NOW = "s3cret", b'{"event":"member.subscribed"}', 1_800_000_000


def check(header: str | None, *, body: bytes = BODY, now: float = NOW) -> int:
    return verify_signature(secret=SECRET, header=header, body=body, now=now, tolerance_seconds=300)


def reason_of(header: str | None, *, body: bytes = BODY) -> str:
    with pytest.raises(SignatureRejected) as refused:
        check(header, body=body)
    assert refused.value.code == "invalid_signature"
    return refused.value.reason


def test_a_signed_body_passes_within_the_tolerance_either_way() -> None:
    assert check(sign(secret=SECRET, timestamp=NOW - 300, body=BODY)) == NOW - 300
    assert check(sign(secret=SECRET, timestamp=NOW + 300, body=BODY)) == NOW + 300


def test_one_matching_signature_among_several_is_enough() -> None:
    good = sign(secret=SECRET, timestamp=NOW, body=BODY).split(",")[1]
    assert check(f"t={NOW},v1={'0' * 64},{good}") == NOW


def test_refusals_name_their_reason() -> None:
    assert reason_of(None) == MISSING
    assert reason_of("") == MISSING
    assert reason_of("v1=abc") == MALFORMED
    assert reason_of(f"t={NOW}") == MALFORMED
    assert reason_of("t=yesterday,v1=abc") == MALFORMED
    assert reason_of(sign(secret=SECRET, timestamp=NOW - 301, body=BODY)) == STALE
    assert reason_of(sign(secret="other", timestamp=NOW, body=BODY)) == MISMATCH
    assert reason_of(sign(secret=SECRET, timestamp=NOW, body=BODY), body=BODY + b" ") == MISMATCH
