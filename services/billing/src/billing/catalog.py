"""The plan catalog, loaded once from `plans.yaml` (data, not scattered constants).

Stripe price ids default to `price_<plan>_<interval>`; `BILLING_STRIPE_PRICE_<PLAN>_<INTERVAL>`
in the environment overrides one (real Stripe accounts have their own ids).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict

from shared.events.schemas.billing import PlanLimits

PERSONAL_DEFAULT_PLAN = "individual_free"
TEAM_DEFAULT_PLAN = "free"
INTERVALS: tuple[str, ...] = ("month", "year")
PlanKind = Literal["personal", "team"]


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    name: str
    kind: PlanKind
    limits: PlanLimits
    features: dict[str, bool]
    # Cents per interval (per seat when `per_seat`); None: not sold at a list price.
    prices: dict[str, int | None]
    per_seat: bool
    purchasable: bool
    stripe_prices: dict[str, str | None]
    # The next plan of the same kind (the 402's `upgrade_to`); None at the top.
    upgrade_to: str | None


class Catalog(BaseModel):
    model_config = ConfigDict(frozen=True)

    plans: dict[str, Plan]

    def get(self, code: str) -> Plan:
        try:
            return self.plans[code]
        except KeyError:
            raise KeyError(f"unknown plan {code!r}") from None

    def of_kind(self, kind: PlanKind) -> list[Plan]:
        return [plan for plan in self.plans.values() if plan.kind == kind]

    def free_plan(self, kind: str) -> Plan:
        """The kind's free plan (where a lapsed or cancelled subscription lands)."""
        return self.get(PERSONAL_DEFAULT_PLAN if kind == "personal" else TEAM_DEFAULT_PLAN)

    def by_stripe_price(self, price_id: str) -> Plan | None:
        """The plan one of whose Stripe prices is `price_id`."""
        for plan in self.plans.values():
            if price_id in plan.stripe_prices.values():
                return plan
        return None


def _stripe_prices(code: str, spec: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, str | None]:
    prices: dict[str, str | None] = {}
    for interval in INTERVALS:
        override = env.get(f"BILLING_STRIPE_PRICE_{code.upper()}_{interval.upper()}")
        default = f"price_{code}_{interval}" if spec["purchasable"] else None
        prices[interval] = override or default
    return prices


def parse_catalog(text: str, env: Mapping[str, str] | None = None) -> Catalog:
    raw = yaml.safe_load(text)
    names: list[str] = raw["features"]
    plans = {}
    for code, spec in raw["plans"].items():
        unknown = set(spec["features"]) - set(names)
        if unknown:
            raise ValueError(f"plan {code} names unknown features {sorted(unknown)}")
        plans[code] = Plan(
            code=code,
            name=spec["name"],
            kind=spec["kind"],
            limits=PlanLimits(**spec["limits"]),
            features={name: name in spec["features"] for name in names},
            prices={interval: spec["prices"][interval] for interval in INTERVALS},
            per_seat=spec.get("per_seat", False),
            purchasable=spec["purchasable"],
            stripe_prices=_stripe_prices(code, spec, env or {}),
            upgrade_to=spec["upgrade_to"],
        )
    for plan in plans.values():
        if plan.upgrade_to is not None and plans[plan.upgrade_to].kind != plan.kind:
            raise ValueError(f"plan {plan.code} upgrades to a plan of another kind")
    return Catalog(plans=plans)


@cache
def load_catalog() -> Catalog:
    text = resources.files("billing").joinpath("plans.yaml").read_text()
    return parse_catalog(text, os.environ)
