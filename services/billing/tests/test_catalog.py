"""The plan catalog holds DESIGN.md section 5's numbers, from one data file."""

from __future__ import annotations

import pytest

from billing.catalog import load_catalog
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
    assert catalog.get("individual_pro").price == {"month": 2900, "year": 29000}
    assert catalog.get("individual_ultra").price == {"month": 9900, "year": 99000}
    assert catalog.get("starter").price["month"] == 4900
    assert catalog.get("professional").price["month"] == 19900


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
