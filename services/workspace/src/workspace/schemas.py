"""workspace's request and response models (API.md, workspace section)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from workspace.models import Role
from workspace.service.naming import SLUG_PATTERN, check_name, check_slug
from workspace.service.plans import DEFAULT_CONVERSION_PLAN


class OrgSettings(BaseModel):
    show_team_features: bool = False
    show_leaderboard: bool = False


class OrgRead(BaseModel):
    id: uuid.UUID
    name: str
    slug: str
    is_personal: bool
    plan: str
    status: Literal["active", "archived"]
    settings: OrgSettings
    created_at: datetime


class _Naming(BaseModel):
    """A chosen name and slug; a bad one is a 422 naming the field."""

    name: str = Field(max_length=200)
    # The rule, for the docs (and for generated clients and fuzzers); check_slug enforces it,
    # with its own message, and refuses the reserved prefix too.
    slug: str = Field(max_length=100, json_schema_extra={"pattern": SLUG_PATTERN})

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value)

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        return check_slug(value)


class OrgCreate(_Naming):
    pass


class OrgConvert(_Naming):
    plan: str = DEFAULT_CONVERSION_PLAN


class MemberRead(BaseModel):
    user_id: str
    email: str | None
    role: Role
    joined_at: datetime


class MemberList(BaseModel):
    members: list[MemberRead]


class RoleChange(BaseModel):
    role: Role


class Limits(BaseModel):
    """`null` means unlimited."""

    seats: int | None
    sessions_per_month: int | None
    scenarios: int | None


class NavItem(BaseModel):
    title: str
    url: str


class Context(BaseModel):
    user_id: str
    org: OrgRead
    role: Role
    is_personal: bool
    plan: str
    features: dict[str, bool]
    limits: Limits
    navigation: list[NavItem]
    show_switcher: bool


class WorkspaceItem(BaseModel):
    org_id: uuid.UUID
    name: str
    slug: str
    is_personal: bool
    role: Role
    plan: str


class WorkspaceList(BaseModel):
    workspaces: list[WorkspaceItem]
    show_switcher: bool
