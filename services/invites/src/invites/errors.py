"""invites's domain errors (mapped to HTTP once, by shared.errors)."""

from shared.errors import DomainError, NotFound

# The platform's one 429 (with Retry-After), re-exported for invites's routes.
from shared.http.ratelimit import RateLimited as RateLimited


class OrgNotFound(NotFound):
    """The org is unknown, or the caller is not a member (ids cannot be probed)."""

    code = "org_not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class RoleNotAllowed(DomainError):
    """A manager asked for a link or an invitation with a role only an admin may grant."""

    status = 403
    code = "role_not_allowed"


class PersonalOrg(DomainError):
    status = 403
    code = "personal_org"


class InvitationNotFound(NotFound):
    code = "invitation_not_found"


class RedemptionRefused(DomainError):
    """Base of every reason a link or an invitation cannot be used (nothing is counted)."""


class InvitationExpired(RedemptionRefused):
    status = 410
    code = "invitation_expired"


class InvitationRevoked(RedemptionRefused):
    status = 410
    code = "invitation_revoked"


class InvitationExhausted(RedemptionRefused):
    status = 410
    code = "invitation_exhausted"


class InvitationUsed(RedemptionRefused):
    status = 410
    code = "invitation_used"


class AlreadyMember(RedemptionRefused):
    status = 409
    code = "already_member"


class SeatLimitReached(RedemptionRefused):
    status = 409
    code = "seat_limit_reached"


class AlreadyInvited(DomainError):
    status = 409
    code = "already_invited"


class EmailMismatch(RedemptionRefused):
    status = 403
    code = "email_mismatch"
