"""One conversion trial per person (issue 15: the 14-day trial was repeatable with throwaway
accounts).

A person is known here by their user id and by their primary address (billing's projection of
`identity.users`). The first conversion by a user — or by any account with the same address —
claims both; a later one finds a claim for another org and gets no trial. Deleting the account
and signing up again with the same address is a new user id with the same address: no second
trial. The address is kept as a SHA-256 in the claims, and its clear-text projection row goes
with the user.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy import Boolean, Text, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

_RECORD_ADDRESSES = text(
    "INSERT INTO user_addresses (user_id, email, email_verified) "
    "SELECT * FROM unnest(:user_ids, :emails, :verified) "
    "ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, email_verified = excluded.email_verified"
).bindparams(
    bindparam("user_ids", type_=ARRAY(Text())),
    bindparam("emails", type_=ARRAY(Text())),
    bindparam("verified", type_=ARRAY(Boolean())),
)
_FORGET_ADDRESS = text("DELETE FROM user_addresses WHERE user_id = :user_id")
_ADDRESS = text("SELECT email, email_verified FROM user_addresses WHERE user_id = :user_id")
_CLAIM = text(
    "INSERT INTO conversion_trials (claimant, org_id) SELECT unnest(:claimants), :org_id "
    "ON CONFLICT (claimant) DO NOTHING"
).bindparams(bindparam("claimants", type_=ARRAY(Text())))
_CLAIMED_ELSEWHERE = text(
    "SELECT EXISTS (SELECT 1 FROM conversion_trials WHERE claimant = ANY(:claimants) AND org_id <> :org_id)"
).bindparams(bindparam("claimants", type_=ARRAY(Text())))


def normalize_email(email: str | None) -> str | None:
    """As the rest of the platform compares addresses: trimmed, lower case (None when blank)."""
    cleaned = (email or "").strip().lower()
    return cleaned or None


async def record_addresses(session: AsyncSession, *, users: Sequence[tuple[str, str | None, bool]]) -> None:
    """Users `(user id, address, verified)` signed up or changed their address, in order (the
    last wins)."""
    latest = {user_id: (normalize_email(email), verified) for user_id, email, verified in users}
    known = {user_id: entry for user_id, entry in latest.items() if entry[0] is not None}
    if known:
        await session.execute(
            _RECORD_ADDRESSES,
            {
                "user_ids": list(known),
                "emails": [email for email, _ in known.values()],
                "verified": [verified for _, verified in known.values()],
            },
        )


async def forget_address(session: AsyncSession, *, user_id: str) -> None:
    """A deleted user's address leaves the projection (their trial claims stay, hashed)."""
    await session.execute(_FORGET_ADDRESS, {"user_id": user_id})


async def claim_conversion_trial(session: AsyncSession, *, org_id: str, owner_user_id: str) -> bool:
    """Record that this person converted `org_id`; True if it is their first conversion (they get
    the trial), False if they (their user id or their address) converted another org before, or
    if their address is known to be unverified (a trial is a person's, and a person is known
    here by a verified address: an unverified one could be anyone's, fresh or someone else's)."""
    known = (await session.execute(_ADDRESS, {"user_id": owner_user_id})).first()
    claimants = [f"user:{owner_user_id}"]
    if known is not None and known.email_verified:
        claimants.append(f"email-sha256:{hashlib.sha256(known.email.encode()).hexdigest()}")
    params = {"claimants": claimants, "org_id": org_id}
    # A concurrent claim of the same key waits here for the other transaction, then conflicts.
    await session.execute(_CLAIM, params)
    elsewhere = bool((await session.execute(_CLAIMED_ELSEWHERE, params)).scalar())
    unverified = known is not None and not known.email_verified
    return not elsewhere and not unverified
