"""Who a request speaks for, as a verified access token says."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Principal:
    """The person behind a verified bearer token and the org the token speaks for."""

    user_id: str
    org_id: str | None
    org_role: str | None
    is_personal_org: bool | None
    plan: str | None

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Principal:
        """Build from a verified token's claims (`sub` is the user)."""
        return cls(
            user_id=str(claims["sub"]),
            org_id=_optional_str(claims.get("org_id")),
            org_role=_optional_str(claims.get("org_role")),
            is_personal_org=_optional_bool(claims.get("is_personal_org")),
            plan=_optional_str(claims.get("plan")),
        )


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _optional_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None
