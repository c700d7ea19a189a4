"""Who may do what in an org: the permissions matrix of docs/workspaces.md, as data.

Decisions use workspace's own memberships table, never the role in a token (which may be up to
a token's lifetime stale).
"""

from __future__ import annotations

from enum import StrEnum

from workspace.errors import Forbidden
from workspace.models import Role


class Action(StrEnum):
    VIEW_ORG = "view_org"
    LIST_MEMBERS = "list_members"
    INVITE = "invite"
    CHANGE_ROLE = "change_role"
    REMOVE_MEMBER = "remove_member"
    SEE_BILLING = "see_billing"


EVERY_ROLE = frozenset(Role)
# Team orgs. In a personal org the owner (role trainee) may do everything that makes sense for
# one person (view, see billing, convert); nothing about other members (see `allowed`).
TEAM_PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.VIEW_ORG: EVERY_ROLE,
    Action.LIST_MEMBERS: EVERY_ROLE,
    Action.INVITE: frozenset({Role.ADMIN, Role.MANAGER}),
    Action.CHANGE_ROLE: frozenset({Role.ADMIN}),
    Action.REMOVE_MEMBER: frozenset({Role.ADMIN}),
    Action.SEE_BILLING: frozenset({Role.ADMIN}),
}
PERSONAL_OWNER_ACTIONS = frozenset({Action.VIEW_ORG, Action.LIST_MEMBERS, Action.SEE_BILLING})


def allowed(*, role: str, is_personal: bool, action: Action) -> bool:
    """Whether a member with `role` may do `action` (a personal org's only member is its owner)."""
    if is_personal:
        return action in PERSONAL_OWNER_ACTIONS
    return Role(role) in TEAM_PERMISSIONS[action]


def ensure_allowed(*, role: str, is_personal: bool, action: Action) -> None:
    """Raise Forbidden unless `allowed`."""
    if not allowed(role=role, is_personal=is_personal, action=action):
        raise Forbidden(f"a {role} may not {action.value.replace('_', ' ')} here")
