"""What identity announces of email ownership: `email_verified` on user.created/user.updated is
true only when Clerk verified the PRIMARY address (never another one, never by fallback)."""

from __future__ import annotations

from typing import Any

import pytest

from identity.schemas import ClerkUser
from identity.service.users import _created_event, _profile
from shared.events.schemas.identity import UserCreated, UserUpdated


def clerk_user(primary: str, addresses: list[tuple[str, Any]]) -> ClerkUser:
    return ClerkUser.model_validate(
        {
            "id": "user_1",
            "primary_email_address_id": primary,
            "email_addresses": [
                {"id": id_, "email_address": f"{id_}@example.com", "verification": verification}
                for id_, verification in addresses
            ],
        }
    )


@pytest.mark.parametrize(
    ("primary", "addresses", "verified"),
    [
        ("e1", [("e1", {"status": "verified", "strategy": "email_code"})], True),
        ("e1", [("e1", {"status": "unverified"})], False),
        ("e1", [("e1", None)], False),
        ("e1", [("e1", {})], False),
        ("e1", [("e1", "verified")], False),  # an odd shape: unverified, not a refused delivery
        ("e1", [("e1", {"status": 1})], False),
        # A verified secondary address does not make the primary one owned.
        ("e1", [("e1", {"status": "unverified"}), ("e2", {"status": "verified"})], False),
        # No primary id matches: the first address is the email, but it binds nothing.
        ("missing", [("e1", {"status": "verified"})], False),
    ],
)
def test_only_a_verified_primary_address_is_announced_verified(
    primary: str, addresses: list[tuple[str, Any]], verified: bool
) -> None:
    user = clerk_user(primary, addresses)
    assert user.primary_email_verified is verified
    assert _created_event(user).email_verified is verified
    assert UserUpdated(**_profile(user)).email_verified is verified


def test_an_event_published_before_the_field_existed_reads_as_unverified() -> None:
    old = UserCreated.model_validate({"user_id": "user_1", "email": "a@example.com"})
    assert old.email_verified is False
