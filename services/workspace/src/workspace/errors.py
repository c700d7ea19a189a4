"""workspace's domain errors (mapped to HTTP once, by shared.errors)."""

from shared.errors import NotFound


class OrgNotFound(NotFound):
    code = "org_not_found"
