"""billing's domain errors (mapped to HTTP once, by shared.errors)."""

from __future__ import annotations

from typing import Any, ClassVar

from shared.errors import DomainError, NotFound


class SubscriptionNotFound(NotFound):
    code = "subscription_not_found"


class OrgNotFound(NotFound):
    """Unknown org, or one the caller is not a member of (ids cannot be probed)."""

    code = "org_not_found"


class ReservationNotFound(NotFound):
    """`/release` with a key that reserved nothing: there is nothing to give back."""

    code = "reservation_not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class PlanKindMismatch(DomainError):
    status = 422
    code = "plan_kind_mismatch"


class PlanNotPurchasable(DomainError):
    status = 422
    code = "plan_not_purchasable"


class UnknownPlan(DomainError):
    status = 422
    code = "unknown_plan"


class AlreadyOnPlan(DomainError):
    status = 409
    code = "already_on_plan"


class InvalidSignature(DomainError):
    status = 400
    code = "invalid_signature"


class MalformedEvent(DomainError):
    status = 400
    code = "malformed_payload"


class PaymentProviderUnavailable(DomainError):
    """Stripe could not be reached after retries; nothing was changed."""

    status = 503
    code = "payment_provider_unavailable"


class PaymentProviderError(DomainError):
    """Stripe refused the call (a configuration problem: key, price id); nothing was changed."""

    status = 502
    code = "payment_provider_error"


class QuotaExceeded(DomainError):
    """402 with the limit, the use as it stands and the plan to upgrade to."""

    status = 402
    code = "quota_exceeded"
    extra_fields: ClassVar[tuple[str, ...]] = ("limit", "used", "upgrade_to")

    def __init__(self, message: str, *, limit: int | None, used: int, upgrade_to: str | None) -> None:
        super().__init__(message)
        self.limit = limit
        self.used = used
        self.upgrade_to = upgrade_to

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "limit": self.limit,
                "used": self.used,
                "upgrade_to": self.upgrade_to,
            }
        }
