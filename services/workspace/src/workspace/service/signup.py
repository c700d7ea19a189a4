"""What a new user gets: the signup paths of DESIGN.md section 4 (flows 1 to 3)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.schemas.identity import UserCreated
from shared.metrics import SIGNUPS, count_on_commit, declare_series
from workspace.service.invitations import (
    InvitedSignup,
    hold_invited_signups,
    invited_addresses,
    normalize_email,
)
from workspace.service.personal import PersonalOrgRequest, create_personal_orgs
from workspace.service.skool import SkoolSignup, provision_skool_signups, waiting_entitlements
from workspace.service.users import note_signups, remember_new_users

log = logging.getLogger(__name__)


class SignupPath(Enum):
    PERSONAL = "personal"  # flow 1: a personal workspace on individual_free
    INVITED = "invited"  # flow 2: wait for invites' verdict (docs/invitations.md)
    SKOOL = "skool"  # flow 3: a business team org, as admin (docs/skool.md)


# The `path` label of backbone_signups_total (docs/operations.md).
_METRIC_PATH = {SignupPath.PERSONAL: "individual", SignupPath.INVITED: "invited", SignupPath.SKOOL: "skool"}
declare_series(SIGNUPS, *[(path,) for path in _METRIC_PATH.values()])  # at 0 from the start


@dataclass(frozen=True)
class Signup:
    """A `user.created` to provision, with the trace it arrived in."""

    user: UserCreated
    traceparent: str | None = None


# Why an address that matched did not bind (member_profiles.signup_note, `devstack trace`).
UNVERIFIED_SKOOL = "email_unverified: the Skool entitlement of this address was not bound"
UNVERIFIED_INVITATION = "email_unverified: the email invitation of this address was not bound"


def choose_signup_path(
    user: UserCreated,
    *,
    invited_emails: set[str] | frozenset[str] = frozenset(),
    skool_emails: set[str] | frozenset[str] = frozenset(),
) -> SignupPath:
    """Decide how a new user is provisioned: one whose verified address has a waiting Skool
    entitlement gets a business team org (it comes first: it is paid for); one who arrived with
    a `pending_invitation`, or whose verified address has an open email invitation, waits for
    invites to redeem it (and gets a personal workspace only if that fails). An unverified
    address binds nothing (API.md): whoever typed it has not shown they own it."""
    email = normalize_email(user.email) if user.email_verified else None
    if email is not None and email in skool_emails:
        return SignupPath.SKOOL
    if user.pending_invitation or (email is not None and email in invited_emails):
        return SignupPath.INVITED
    return SignupPath.PERSONAL


def unbound_reason(user: UserCreated, path: SignupPath, *, invited: set[str], skool: set[str]) -> str | None:
    """Why a signup whose address matched an entitlement or invitation went another way."""
    email = normalize_email(user.email)
    if user.email_verified or email is None or path is SignupPath.SKOOL:
        return None
    reason = UNVERIFIED_SKOOL if email in skool else UNVERIFIED_INVITATION if email in invited else None
    if reason is not None and path is SignupPath.PERSONAL:
        reason += "; a personal workspace instead"
    return reason


async def provision_new_users(session: AsyncSession, *, signups: Sequence[Signup]) -> None:
    """Give each newly signed-up user the workspace their signup path calls for (a batch at once).

    Only once per user id: a user workspace already knows (a redelivery past the inbox's
    retention, or after their personal org was converted to a team org) gets nothing new.
    """
    signups = await _first_time(session, signups)
    emails = [signup.user.email for signup in signups]
    invited_emails = await invited_addresses(session, emails=emails)
    skool_emails = await waiting_entitlements(session, emails=emails)
    paths = [
        (signup, choose_signup_path(signup.user, invited_emails=invited_emails, skool_emails=skool_emails))
        for signup in signups
    ]
    for _, path in paths:
        count_on_commit(session, SIGNUPS.labels(_METRIC_PATH[path]))
    notes = {
        signup.user.user_id: reason
        for signup, path in paths
        if (reason := unbound_reason(signup.user, path, invited=invited_emails, skool=skool_emails))
    }
    await note_signups(session, notes=notes)
    for user_id, reason in notes.items():
        log.info("signup %s: %s", user_id, reason)
    personal = [
        PersonalOrgRequest(signup.user.user_id, signup.user.first_name, signup.traceparent)
        for signup, path in paths
        if path is SignupPath.PERSONAL
    ]
    invited = [
        InvitedSignup(
            signup.user.user_id, signup.user.first_name, signup.user.pending_invitation, signup.traceparent
        )
        for signup, path in paths
        if path is SignupPath.INVITED
    ]
    skool = [
        SkoolSignup(signup.user.user_id, signup.user.email or "", signup.user.first_name)
        for signup, path in paths
        if path is SignupPath.SKOOL
    ]
    # An entitlement taken meanwhile by another account of the same address: a personal org.
    personal += [
        PersonalOrgRequest(unserved.user_id, unserved.first_name)
        for unserved in await provision_skool_signups(session, signups=skool)
    ]
    # Invited users whose redemption already failed (its verdict came first) fall back now.
    personal += await hold_invited_signups(session, signups=invited)
    await create_personal_orgs(session, requests=personal)


async def _first_time(session: AsyncSession, signups: Sequence[Signup]) -> list[Signup]:
    """The signups of users workspace did not know yet, each user once."""
    new = await remember_new_users(session, users=[signup.user for signup in signups])
    first = []
    for signup in signups:
        if signup.user.user_id in new:
            new.discard(signup.user.user_id)
            first.append(signup)
    return first
