"""What a new user gets: the signup paths of DESIGN.md section 4 (flows 1 to 3)."""

from __future__ import annotations

from enum import Enum

from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.schemas.identity import UserCreated
from workspace.service.personal import create_personal_org
from workspace.service.users import remember_new_user


class SignupPath(Enum):
    PERSONAL = "personal"  # flow 1: a personal workspace on individual_free
    # Flow 2 (invitation link) and flow 3 (Skool entitlement) join here with their issues.


def choose_signup_path(user: UserCreated) -> SignupPath:
    """Decide how a new user is provisioned.

    Until invitation redemption exists (invites service), a user who arrived with a
    `pending_invitation` gets flow 2's documented fallback: a personal workspace.
    """
    return SignupPath.PERSONAL


async def provision_new_user(session: AsyncSession, *, user: UserCreated) -> None:
    """Give a newly signed-up user the workspace their signup path calls for.

    Only once per user id: a user workspace already knows (a redelivery past the inbox's
    retention, or after their personal org was converted to a team org) gets nothing new.
    """
    if not await remember_new_user(session, user=user):
        return
    match choose_signup_path(user):
        case SignupPath.PERSONAL:
            await create_personal_org(session, user_id=user.user_id, first_name=user.first_name)
