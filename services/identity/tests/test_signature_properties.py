"""identity's Svix verifier, without the platform: any header values → verified or
InvalidSignature (401), never another exception (a 500). The live answers:
test_signature_headers.py."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from svix.webhooks import Webhook

from identity.errors import InvalidSignature
from identity.webhooks import verify_delivery

SECRET = "whsec_dGVzdC1hdXRoLXdlYmhvb2stc2VjcmV0LTEyMzQ="
BODY = b'{"type": "user.created"}'

# Any text, any bytes as the server decodes them (latin-1), and near-misses of the real format.
header_value = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200).map(lambda raw: raw.decode("latin-1")),
    st.builds(
        lambda version, sep, value: f"{version}{sep}{value}",
        st.sampled_from(["v1", "v1a", ""]),
        st.sampled_from([",", " ", ""]),
        st.text(alphabet="ABCabc012+/=,é²", max_size=60),
    ),
    st.text(alphabet="0123456789²٣", max_size=30),
)


def verify(headers: dict[str, str], body: bytes = BODY) -> str:
    return verify_delivery(secret=SECRET, body=body, headers=headers)


# A current timestamp (most of the time), so the signature itself gets read.
now_or_any = st.one_of(st.builds(lambda: str(int(time.time()))), header_value)
headers_sent = st.one_of(
    st.fixed_dictionaries(
        {"svix-id": header_value, "svix-timestamp": now_or_any, "svix-signature": header_value}
    ),
    st.dictionaries(st.sampled_from(["svix-id", "svix-timestamp", "svix-signature"]), header_value),
)


@settings(max_examples=400, deadline=None)
@given(headers=headers_sent, body=st.binary(max_size=100))
def test_any_svix_headers_are_verified_or_an_invalid_signature(headers: dict[str, str], body: bytes) -> None:
    with contextlib.suppress(InvalidSignature):
        verify(headers, body)


def test_a_delivery_signed_by_svix_is_accepted() -> None:
    now = int(time.time())
    signature = Webhook(SECRET).sign("msg_1", datetime.fromtimestamp(now, UTC), BODY.decode())
    assert verify({"svix-id": "msg_1", "svix-timestamp": str(now), "svix-signature": signature}) == "msg_1"


@pytest.mark.parametrize("signature", ["v1", "v1,abc", "v1,\xe9\xe9", "\xff"])
def test_the_signatures_that_were_500s_are_invalid_signatures(signature: str) -> None:
    headers = {"svix-id": "msg_1", "svix-timestamp": str(int(time.time())), "svix-signature": signature}
    with pytest.raises(InvalidSignature) as refused:
        verify(headers)
    assert (refused.value.status, refused.value.code) == (401, "invalid_signature")
