"""shared.http.signatures: what the providers sign verifies; anything else is BadSignature.

The services' own verifiers, fed the same kinds of input: the webhook signature property tests
in services/identity, services/billing and services/skool-ingest.
"""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime

import pytest
import stripe
from hypothesis import given, settings
from hypothesis import strategies as st
from svix.webhooks import Webhook

from shared.http.signatures import (
    MALFORMED,
    MISMATCH,
    MISSING,
    STALE,
    BadSignature,
    sign_timestamped,
    svix_key,
    verify_svix,
    verify_timestamped,
)

SECRET, BODY = "whsec_dGVzdC1zZWNyZXQtZm9yLXNpZ25hdHVyZXM=", b'{"id": "evt_1", "name": "Zo\xc3\xab"}'
NOW = 1_800_000_000

# Header values as a server sees them: any text, and any bytes read as latin-1 (Starlette's
# decoding), plus near-misses of the real formats so the property reaches the deeper checks.
any_text = st.text(max_size=300)
any_bytes = st.binary(max_size=300).map(lambda raw: raw.decode("latin-1"))
digits = st.text(alphabet="0123456789²³¹٣", min_size=0, max_size=40)
near_timestamped = st.builds(
    lambda t, sep, v, extra: f"t={t}{sep}v1={v}{extra}",
    st.one_of(digits, any_text),
    st.sampled_from([",", ", ", ";", ""]),
    st.one_of(st.text(alphabet="0123456789abcdefABCDEFxyz", max_size=70), any_text),
    st.one_of(st.just(""), any_text.map(lambda text: "," + text)),
)
near_svix = st.builds(
    lambda version, sep, value: f"{version}{sep}{value}",
    st.sampled_from(["v1", "v1a", "v2", "", "v1,v1"]),
    st.sampled_from([",", " ", "", ",,"]),
    st.one_of(st.text(alphabet="ABCDEFabcdef0123456789+/=", max_size=60), any_text),
)
header_values = st.one_of(st.none(), any_text, any_bytes, near_timestamped, near_svix)


def timestamped(header: str | None, *, body: bytes = BODY, now: float = NOW) -> int:
    return verify_timestamped(
        secret=SECRET, header=header, name="Test-Signature", body=body, now=now, tolerance_seconds=300
    )


def svix(*, message_id: str | None, timestamp: str | None, signature: str | None, now: float = NOW) -> str:
    return verify_svix(
        key=svix_key(SECRET),
        message_id=message_id,
        timestamp=timestamp,
        signature=signature,
        body=BODY,
        now=now,
        tolerance_seconds=300,
    )


def reason(call: object) -> str:
    assert callable(call)
    with pytest.raises(BadSignature) as refused:
        call()
    return refused.value.reason


def test_what_stripe_signs_verifies_and_so_does_the_sign_helper() -> None:
    stripe_header = stripe.WebhookSignature.generate_signature_header(BODY.decode(), SECRET, timestamp=NOW)
    assert timestamped(stripe_header) == NOW
    assert timestamped(sign_timestamped(secret=SECRET, timestamp=NOW, body=BODY)) == NOW
    # Stripe also sends a v0 entry in test mode; several v1 (a rotation): one match is enough.
    assert timestamped(f"t={NOW},v0={'a' * 64},v1={'0' * 64},{stripe_header.split(',')[1]}") == NOW


def test_what_svix_signs_verifies() -> None:
    when = datetime.fromtimestamp(NOW, UTC)
    signature = Webhook(SECRET).sign("msg_1", when, BODY.decode())

    assert svix(message_id="msg_1", timestamp=str(NOW), signature=signature) == "msg_1"
    assert svix(message_id="msg_1", timestamp=str(NOW), signature=f"v1a,xyz v1,{'A' * 43}= {signature}")


def test_the_known_crashers_are_malformed_signatures() -> None:
    for signature in ("v1", "v1,abc", "v1,", "v1,é", "v1," + "A" * 44):
        assert (
            reason(lambda s=signature: svix(message_id="msg_1", timestamp=str(NOW), signature=s)) == MALFORMED
        )
    assert reason(lambda: svix(message_id="msg_1", timestamp="1e9", signature="v1,x")) == MALFORMED
    assert reason(lambda: svix(message_id="msg_\xe9", timestamp=str(NOW), signature="v1,x")) == MALFORMED
    for header in (
        f"t={NOW},v1={'é' * 64}",
        "t=²,v1=" + "0" * 64,
        "t=" + "9" * 5000 + ",v1=" + "0" * 64,
        f"t={NOW},v1={'0' * 63}",
        f"t={NOW},t={NOW},v1={'0' * 64}",
        f"t={NOW}\xff,v1={'0' * 64}",
        "v1=abc",
        f"t={NOW}",
    ):
        assert reason(lambda h=header: timestamped(h)) == MALFORMED, header


def test_refusals_name_their_reason() -> None:
    assert reason(lambda: timestamped(None)) == MISSING
    assert (
        reason(lambda: timestamped(sign_timestamped(secret=SECRET, timestamp=NOW - 301, body=BODY))) == STALE
    )
    assert reason(lambda: timestamped(sign_timestamped(secret="other", timestamp=NOW, body=BODY))) == MISMATCH
    assert reason(lambda: svix(message_id=None, timestamp=str(NOW), signature="v1,x")) == MISSING
    stale = Webhook(SECRET).sign("msg_1", datetime.fromtimestamp(NOW - 301, UTC), BODY.decode())
    assert reason(lambda: svix(message_id="msg_1", timestamp=str(NOW - 301), signature=stale)) == STALE


@settings(max_examples=500, deadline=None)
@given(header=header_values)
def test_any_timestamped_header_verifies_or_is_a_bad_signature(header: str | None) -> None:
    with contextlib.suppress(BadSignature):
        timestamped(header, now=time.time())


@settings(max_examples=500, deadline=None)
@given(message_id=header_values, timestamp=st.one_of(header_values, digits), signature=header_values)
def test_any_svix_headers_verify_or_are_a_bad_signature(
    message_id: str | None, timestamp: str | None, signature: str | None
) -> None:
    with contextlib.suppress(BadSignature):
        svix(message_id=message_id, timestamp=timestamp, signature=signature, now=time.time())
