"""StrictEmail: a request's email address is one bare addr-spec; display-name forms and anything
else that could be read as another address are refused."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from shared.http.email import StrictEmail


class Body(BaseModel):
    email: StrictEmail


@pytest.mark.parametrize(
    "address",
    ["lin@example.com", "Lin.Ho+team@mail.example.co.uk", "  padded@example.com ", "o'neil@xn--bcher-kva.de"],
)
def test_a_bare_address_is_accepted_trimmed(address: str) -> None:
    assert Body(email=address).email == address.strip()


@pytest.mark.parametrize(
    "address",
    [
        "x<victim@corp.com>",
        "<victim@corp.com>",
        '"A" <a@b.co>',
        "Alice <alice@example.com>",
        "a@b.co, c@d.co",
        "a@b.co (comment)",
        '"quoted local"@example.com',
        "a b@example.com",
        "a@b.co\r\nBcc: x@y.co",
        "a@b@c.co",
        "a@[127.0.0.1]",
        "a@localhost",
        "a..b@example.com",
        ".a@example.com",
        "a@-example.com",
        "ünï@example.com",
        "a@example.com\x00",
        "",
        "@example.com",
        ("x" * 65) + "@example.com",
        "a@" + ("b" * 60 + ".") * 6 + "com",  # over 320 characters
    ],
)
def test_anything_else_is_refused(address: str) -> None:
    with pytest.raises(ValidationError):
        Body(email=address)
