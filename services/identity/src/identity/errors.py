"""identity's domain errors (mapped to HTTP once, by shared.errors)."""

from shared.errors import DomainError, NotFound, Unauthorized


class InvalidSignature(Unauthorized):
    code = "invalid_signature"


class MalformedWebhook(DomainError):
    status = 400
    code = "malformed_payload"


class UserNotFound(NotFound):
    code = "user_not_found"


class NotAMember(DomainError):
    """A token asked for an org the user is not an active member of."""

    status = 403
    code = "not_a_member"


class NotProvisioned(DomainError):
    """The user has no org yet (their workspace is still being created), so no token."""

    status = 409
    code = "not_provisioned"
