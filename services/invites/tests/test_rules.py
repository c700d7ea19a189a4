"""Rules that need no platform: the public rate limit and the reading of legacy code rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from invites.errors import RateLimited
from invites.legacy_codes import BadRow, parse_row
from invites.ratelimit import WINDOW_SECONDS, RateLimiter
from invites.service.links import new_slug


def test_the_limit_is_per_client_and_per_window() -> None:
    limiter = RateLimiter(per_minute=3)
    for _ in range(3):
        limiter.hit("10.0.0.1", now=100.0)
    with pytest.raises(RateLimited):
        limiter.hit("10.0.0.1", now=100.5)
    limiter.hit("10.0.0.2", now=100.5)
    limiter.hit("10.0.0.1", now=100.0 + WINDOW_SECONDS)


def test_slugs_are_url_safe_and_carry_at_least_128_bits() -> None:
    slugs = {new_slug() for _ in range(1000)}
    assert len(slugs) == 1000
    assert all(len(slug) >= 22 and slug.replace("-", "").replace("_", "").isalnum() for slug in slugs)


def test_a_legacy_row_is_read_and_checked() -> None:
    org = uuid.uuid4()
    row = {"code": " AB12CD34 ", "org_id": str(org), "role": "Manager", "max_uses": "5", "current_uses": "1",
           "expires_at": "2030-01-01T00:00:00"}  # fmt: skip
    parsed = parse_row(row)
    assert (parsed.code, parsed.org_id, parsed.role, parsed.max_uses, parsed.current_uses) == (
        "AB12CD34", org, "manager", 5, 1,
    )  # fmt: skip
    assert parsed.expires_at == datetime(2030, 1, 1, tzinfo=UTC)
    assert parse_row({**row, "expires_at": ""}).expires_at is None


@pytest.mark.parametrize(
    "change",
    [{"org_id": "x"}, {"role": "owner"}, {"max_uses": "0"}, {"current_uses": "-1"}, {"expires_at": "soon"},
     {"code": ""}, {"max_uses": "many"}],
)  # fmt: skip
def test_an_unreadable_legacy_row_fails(change: dict[str, str]) -> None:
    row = {"code": "AB12CD34", "org_id": str(uuid.uuid4()), "role": "trainee", "max_uses": "1",
           "current_uses": "0", "expires_at": ""}  # fmt: skip
    with pytest.raises(BadRow):
        parse_row({**row, **change})
