"""Rules that need no platform: the rate limits, the roles each role may grant, and the reading of
legacy code rows."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from invites.errors import RateLimited
from invites.legacy_codes import BadRow, default_cutover, parse_row
from invites.service.access import ROLES, may_grant
from invites.service.links import new_slug
from invites.settings import InvitesSettings
from invites.throttles import Throttles


def test_invitation_mail_is_limited_per_org_and_per_address() -> None:
    throttles = Throttles.from_settings(InvitesSettings(mail_per_org_per_hour=4, mail_per_address_per_hour=2))
    org, other_org = uuid.uuid4(), uuid.uuid4()
    throttles.take_mail(org_id=org, address="a@example.com")
    throttles.take_mail(org_id=other_org, address="a@example.com")
    with pytest.raises(RateLimited) as refused:  # the address's budget, whichever org sends
        throttles.take_mail(org_id=org, address="a@example.com")
    assert 3500 < int(refused.value.headers["Retry-After"]) <= 3600
    throttles.take_mail(org_id=org, address="b@example.com")
    throttles.take_mail(org_id=org, address="c@example.com")  # the org's 3rd: the refusal counted nothing
    throttles.take_mail(org_id=org, address="d@example.com")
    with pytest.raises(RateLimited):  # the org's budget (4)
        throttles.take_mail(org_id=org, address="e@example.com")
    throttles.take_mail(org_id=other_org, address="d@example.com")


def test_admins_grant_any_role_managers_only_the_four_below_them() -> None:
    assert all(may_grant("admin", role) for role in ROLES)
    assert {role for role in ROLES if may_grant("manager", role)} == {"hr", "trainee", "tech", "client"}
    assert not any(may_grant(granter, role) for granter in ("hr", "trainee", "tech", "client", None)
                   for role in ROLES)  # fmt: skip


def test_legacy_codes_stop_90_days_after_a_migration_without_a_cutover() -> None:
    assert default_cutover(date(2026, 12, 3)) == date(2027, 3, 3)


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
