"""Personal workspace naming (seed 000: "<First name>'s Workspace", slug personal-<user id>)."""

from __future__ import annotations

import pytest

from workspace.service.personal import personal_org_name, personal_org_slug


@pytest.mark.parametrize(
    "first_name,expected",
    [
        ("John", "John's Workspace"),
        ("  Ada ", "Ada's Workspace"),
        (None, "User's Workspace"),
        ("", "User's Workspace"),
    ],
)
def test_personal_org_name(first_name: str | None, expected: str) -> None:
    assert personal_org_name(first_name) == expected


def test_personal_org_slug() -> None:
    assert personal_org_slug("user_2abc") == "personal-user_2abc"
