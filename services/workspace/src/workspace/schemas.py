"""workspace's request and response models."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel


class OrgRead(BaseModel):
    id: uuid.UUID
    name: str
    slug: str
    is_personal: bool
    settings: dict[str, Any]
