"""The plan catalog, loaded once from `plans.yaml` (data, not scattered constants)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict

from shared.events.schemas.billing import PlanLimits

PERSONAL_DEFAULT_PLAN = "individual_free"
TEAM_DEFAULT_PLAN = "free"


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    name: str
    kind: Literal["personal", "team"]
    limits: PlanLimits
    features: dict[str, bool]
    price: dict[str, int | str | bool]


class Catalog(BaseModel):
    model_config = ConfigDict(frozen=True)

    plans: dict[str, Plan]

    def get(self, code: str) -> Plan:
        try:
            return self.plans[code]
        except KeyError:
            raise KeyError(f"unknown plan {code!r}") from None


def parse_catalog(text: str) -> Catalog:
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
            price=spec["price"],
        )
    return Catalog(plans=plans)


@cache
def load_catalog() -> Catalog:
    return parse_catalog(resources.files("billing").joinpath("plans.yaml").read_text())
