"""invites's request and response models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.http.email import StrictEmail

Role = Literal["admin", "manager", "hr", "trainee", "tech", "client"]


class LinkCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    max_uses: int = Field(default=1, ge=1, le=1000)
    expires_in_days: int = Field(default=7, ge=1, le=30)


class LinkRead(BaseModel):
    slug: str
    url: str
    org_id: uuid.UUID
    role: str
    max_uses: int
    current_uses: int
    expires_at: datetime
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


class LinkList(BaseModel):
    links: list[LinkRead]


class LinkValidity(BaseModel):
    valid: Literal[True] = True
    org_name: str
    role: str
    expires_at: datetime


class Joined(BaseModel):
    org_id: uuid.UUID
    role: str
    status: Literal["joined"] = "joined"


class InvitationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # One bare addr-spec: a display-name form (`x<victim@corp.com>`) or a list is refused (422), so
    # the address an invitation is bound to is the address its email goes to.
    email: StrictEmail
    role: Role


class InvitationRead(BaseModel):
    id: uuid.UUID
    email: str
    role: str
    status: str
    expires_at: datetime


class InvitationList(BaseModel):
    invitations: list[InvitationRead]
