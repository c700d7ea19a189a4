"""identity's domain errors (mapped to HTTP once, by shared.errors)."""

from shared.errors import DomainError, NotFound, Unauthorized


class InvalidSignature(Unauthorized):
    code = "invalid_signature"


class MalformedWebhook(DomainError):
    status = 400
    code = "malformed_payload"


class UserNotFound(NotFound):
    code = "user_not_found"
