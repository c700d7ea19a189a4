"""What a new user gets: the signup paths of DESIGN.md section 4 (flows 1 to 3)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.schemas.identity import UserCreated
from workspace.service.personal import PersonalOrgRequest, create_personal_orgs
from workspace.service.users import remember_new_users


class SignupPath(Enum):
    PERSONAL = "personal"  # flow 1: a personal workspace on individual_free
    # Flow 2 (invitation link) and flow 3 (Skool entitlement) join here with their issues.


@dataclass(frozen=True)
class Signup:
    """A `user.created` to provision, with the trace it arrived in."""

    user: UserCreated
    traceparent: str | None = None


def choose_signup_path(user: UserCreated) -> SignupPath:
    """Decide how a new user is provisioned.

    Until invitation redemption exists (invites service), a user who arrived with a
    `pending_invitation` gets flow 2's documented fallback: a personal workspace.
    """
    return SignupPath.PERSONAL


async def provision_new_users(session: AsyncSession, *, signups: Sequence[Signup]) -> None:
    """Give each newly signed-up user the workspace their signup path calls for (a batch at once).

    Only once per user id: a user workspace already knows (a redelivery past the inbox's
    retention, or after their personal org was converted to a team org) gets nothing new.
    """
    new = await remember_new_users(session, users=[signup.user for signup in signups])
    personal = []
    for signup in signups:
        if signup.user.user_id not in new:
            continue
        new.discard(signup.user.user_id)  # the same user twice in one batch: provisioned once
        if choose_signup_path(signup.user) is SignupPath.PERSONAL:
            personal.append(
                PersonalOrgRequest(signup.user.user_id, signup.user.first_name, signup.traceparent)
            )
    await create_personal_orgs(session, requests=personal)
