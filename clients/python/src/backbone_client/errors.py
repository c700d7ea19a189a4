"""The platform's error answers as exceptions: `{"error": {"code", "message", ...extra}}`."""

from __future__ import annotations

from typing import Any


class PlatformError(Exception):
    """An error answer of the platform (API.md): its status, `code`, `message` and extra fields."""

    def __init__(self, status: int, code: str, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra or {}


class QuotaExceeded(PlatformError):
    """402 `quota_exceeded`: the month's (or the plan's) allowance is used up. `upgrade_to` is the
    next plan of the same kind (None at the top); `used` does not count the refused use."""

    @property
    def limit(self) -> int | None:
        value = self.extra.get("limit")
        return value if isinstance(value, int) else None

    @property
    def used(self) -> int | None:
        value = self.extra.get("used")
        return value if isinstance(value, int) else None

    @property
    def upgrade_to(self) -> str | None:
        value = self.extra.get("upgrade_to")
        return value if isinstance(value, str) else None


class NotFound(PlatformError):
    """404: `org_not_found`, `user_not_found`, `reservation_not_found`, ..."""


class Gone(PlatformError):
    """410: the thing existed and is no longer usable (an expired, revoked or used invitation)."""


class Unavailable(PlatformError):
    """503 or 429 still answered after the client's retries (or the platform was unreachable)."""


def error_for(status: int, body: Any) -> PlatformError:
    """The typed exception for an error answer."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {"code": "unexpected_response", "message": str(body)[:500]}
    code = str(error.get("code", "unknown_error"))
    message = str(error.get("message", ""))
    extra = {key: value for key, value in error.items() if key not in ("code", "message")}
    return _BY_STATUS.get(status, PlatformError)(status, code, message, extra)


_BY_STATUS: dict[int, type[PlatformError]] = {
    402: QuotaExceeded,
    404: NotFound,
    410: Gone,
    429: Unavailable,
    503: Unavailable,
}
