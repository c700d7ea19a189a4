"""`StrictEmail`: the one type of an email address in a request body — a single bare addr-spec.

Refused (422 `validation_error`): display-name forms (`x<victim@corp.com>`, `"A" <a@b.c>`), lists
(`a@b.c, d@e.f`), comments (`a@b.c (x)`), quoted local parts, whitespace or control characters
inside, IP-literal domains, a domain without a dot, and non-ASCII (an internationalized domain is
given in its `xn--` form). Surrounding whitespace is trimmed; the case is kept (callers normalize).
An address is what is mailed to and what an invitation is bound to: a lax parser lets
`x<victim@corp.com>` be stored as one address and delivered to another.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

MAX_LENGTH = 320
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDR_SPEC = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+")


def bare_address(value: str) -> str:
    """`value` trimmed, if it is one bare addr-spec (local part ≤ 64 characters); else ValueError."""
    address = value.strip()
    if not _ADDR_SPEC.fullmatch(address) or len(address.split("@", 1)[0]) > 64:
        raise ValueError("not a single bare email address (like name@example.com)")
    return address


StrictEmail = Annotated[str, Field(max_length=MAX_LENGTH), AfterValidator(bare_address)]
