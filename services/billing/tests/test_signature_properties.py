"""billing's Stripe verifier, without the platform: any `Stripe-Signature` → verified or
InvalidSignature (API.md's 400 `invalid_signature`), never another exception (a 500). The live
answers: test_signature_headers.py."""

from __future__ import annotations

import contextlib
import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.errors import InvalidSignature
from billing.settings import BillingSettings
from billing.stripe_gateway import StripeGateway
from shared.http.signatures import sign_timestamped

SECRET = "whsec_test_stripe"
EVENT = {"id": "evt_1", "type": "invoice.paid", "created": 1, "data": {"object": {}}}
BODY = json.dumps(EVENT).encode()
GATEWAY = StripeGateway(BillingSettings(stripe_webhook_secret=SECRET))

header_value = st.one_of(
    st.none(),
    st.text(max_size=300),
    st.binary(max_size=300).map(lambda raw: raw.decode("latin-1")),
    st.builds(
        lambda t, v: f"t={t},v1={v}",
        st.one_of(st.text(alphabet="0123456789²", max_size=30), st.text(max_size=10)),
        st.one_of(st.text(alphabet="0123456789abcdefé", max_size=70), st.text(max_size=70)),
    ),
)


@settings(max_examples=400, deadline=None)
@given(signature=header_value)
def test_any_stripe_signature_is_verified_or_an_invalid_signature(signature: str | None) -> None:
    with contextlib.suppress(InvalidSignature):
        GATEWAY.verify_event(BODY, signature)


def test_a_signed_event_is_returned() -> None:
    signature = sign_timestamped(secret=SECRET, timestamp=int(time.time()), body=BODY)
    assert GATEWAY.verify_event(BODY, signature) == EVENT


@pytest.mark.parametrize(
    "signature", [f"t=1,v1={'é' * 64}", f"t={{now}},v1={'é' * 64}", "t=²,v1=" + "0" * 64, "t=" + "9" * 5000]
)
def test_the_signatures_that_were_500s_are_invalid_signatures(signature: str) -> None:
    with pytest.raises(InvalidSignature) as refused:
        GATEWAY.verify_event(BODY, signature.replace("{now}", str(int(time.time()))))
    assert (refused.value.status, refused.value.code) == (400, "invalid_signature")
