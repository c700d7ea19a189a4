"""The plan catalog holds DESIGN.md section 5's numbers, from one data file."""

from __future__ import annotations

from importlib import resources

import pytest

from billing.catalog import load_catalog, parse_catalog
from billing.service.subscriptions import initial_plan_for

UNLIMITED = None


@pytest.mark.parametrize(
    "code,kind,seats,sessions,scenarios,ai",
    [
        ("individual_free", "personal", 1, 10, 3, False),
        ("individual_pro", "personal", 1, 100, 50, True),
        ("individual_ultra", "personal", 1, 500, 200, True),
        ("free", "team", 3, 30, 5, False),
        ("starter", "team", 10, 100, 20, True),
        ("professional", "team", 50, UNLIMITED, UNLIMITED, True),
        ("business", "team", 10, 500, 100, True),
        ("enterprise", "team", UNLIMITED, UNLIMITED, UNLIMITED, True),
    ],
)
def test_plan_limits(
    code: str, kind: str, seats: int | None, sessions: int | None, scenarios: int | None, ai: bool
) -> None:
    plan = load_catalog().get(code)
    assert plan.kind == kind
    assert (plan.limits.seats, plan.limits.sessions_per_month, plan.limits.scenarios) == (
        seats,
        sessions,
        scenarios,
    )
    assert plan.limits.ai_generation is ai
    assert plan.features["ai_scenario_generation"] is ai


def test_personal_plans_have_no_team_features() -> None:
    for plan in load_catalog().plans.values():
        if plan.kind == "personal":
            assert not plan.features["team_management"] and not plan.features["leaderboards"]


def test_prices_match_the_design() -> None:
    catalog = load_catalog()
    assert catalog.get("individual_pro").prices == {"month": 2900, "year": 29000}
    assert catalog.get("individual_ultra").prices == {"month": 9900, "year": 99000}
    assert catalog.get("starter").prices["month"] == 4900 and catalog.get("starter").per_seat
    assert catalog.get("professional").prices["month"] == 19900


def test_only_paid_self_serve_plans_are_purchasable() -> None:
    purchasable = {code for code, plan in load_catalog().plans.items() if plan.purchasable}
    assert purchasable == {"individual_pro", "individual_ultra", "starter", "professional"}
    for plan in load_catalog().plans.values():
        assert all(plan.stripe_prices.values()) is plan.purchasable


def test_stripe_price_ids_are_overridable_by_environment() -> None:
    text = resources.files("billing").joinpath("plans.yaml").read_text()
    catalog = parse_catalog(text, {"BILLING_STRIPE_PRICE_STARTER_YEAR": "price_real_123"})
    assert catalog.get("starter").stripe_prices == {"month": "price_starter_month", "year": "price_real_123"}
    assert catalog.by_stripe_price("price_real_123") == catalog.get("starter")
    assert catalog.by_stripe_price("price_starter_year") is None


@pytest.mark.parametrize(
    "code,upgrade_to",
    [
        ("individual_free", "individual_pro"),
        ("individual_pro", "individual_ultra"),
        ("individual_ultra", None),
        ("free", "starter"),
        ("starter", "professional"),
        ("business", "professional"),
        ("professional", "enterprise"),
        ("enterprise", None),
    ],
)
def test_each_plan_names_the_next_plan_of_its_kind(code: str, upgrade_to: str | None) -> None:
    assert load_catalog().get(code).upgrade_to == upgrade_to


@pytest.mark.parametrize(
    "requested,is_personal,expected",
    [
        ("individual_free", True, "individual_free"),
        ("business", False, "business"),
        ("starter", True, "individual_free"),
        ("individual_pro", False, "free"),
        ("no-such-plan", False, "free"),
    ],
)
def test_a_new_org_starts_on_a_plan_of_its_own_kind(requested: str, is_personal: bool, expected: str) -> None:
    assert initial_plan_for(requested=requested, is_personal=is_personal).code == expected


def test_a_team_org_provisioned_for_skool_starts_on_business() -> None:
    assert initial_plan_for(requested="free", is_personal=False, provisioned_for="skool").code == "business"
