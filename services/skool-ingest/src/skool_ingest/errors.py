"""skool_ingest's domain errors (mapped to HTTP once, by shared.errors)."""

from shared.errors import DomainError, Unauthorized


class InvalidSignature(Unauthorized):
    """`Skool-Signature` missing, malformed, wrong, or its timestamp outside the tolerance."""

    code = "invalid_signature"


class InvalidDelivery(DomainError):
    """The body is not JSON or lacks / mistypes a field of the delivery format (API.md)."""

    status = 422
    code = "validation_error"


class UnknownEvent(DomainError):
    """`event` is not one of member.subscribed / member.cancelled."""

    status = 422
    code = "unknown_event"
