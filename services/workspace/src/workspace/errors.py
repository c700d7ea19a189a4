"""workspace's domain errors (mapped to HTTP once, by shared.errors)."""

from shared.errors import DomainError, NotFound


class OrgNotFound(NotFound):
    """Unknown org, or one the caller is not a member of (ids cannot be probed)."""

    code = "org_not_found"


class MemberNotFound(NotFound):
    code = "member_not_found"


class Forbidden(DomainError):
    """A member whose role may not do this (docs/workspaces.md, permissions matrix)."""

    status = 403
    code = "forbidden"


class PersonalOrgRefused(DomainError):
    """A personal workspace has exactly one member, its owner: no second member, no leaving."""

    status = 403
    code = "personal_org"


class SlugTaken(DomainError):
    status = 409
    code = "slug_taken"


class LastAdmin(DomainError):
    """The change would leave a team org without an admin."""

    status = 409
    code = "last_admin"


class NotPersonal(DomainError):
    """Only a personal org can be converted to a team org."""

    status = 409
    code = "not_personal"


class PlanKindMismatch(DomainError):
    """A team org asked for an individual plan (or the reverse)."""

    status = 422
    code = "plan_kind_mismatch"


class UnknownPlan(DomainError):
    status = 422
    code = "unknown_plan"


class InvalidField(DomainError, ValueError):
    """A name or slug that breaks its rule; the message names the field (a ValueError too, so
    request models turn it into an ordinary 422 `validation_error`)."""

    status = 422
    code = "validation_error"
