"""Which emails have an account: a projection of `identity.users` (user id → normalized email)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Text, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from skool_ingest.schemas import normalize_email

# One statement for a whole run of signups.
_REMEMBER = text(
    "INSERT INTO skool_accounts (user_id, email) SELECT * FROM unnest(:user_ids, :emails) "
    "ON CONFLICT (user_id) DO UPDATE SET email = excluded.email"
).bindparams(bindparam("user_ids", type_=ARRAY(Text())), bindparam("emails", type_=ARRAY(Text())))
_FORGET = text("DELETE FROM skool_accounts WHERE user_id = :user_id")
_HAS_ACCOUNT = text("SELECT EXISTS (SELECT 1 FROM skool_accounts WHERE email = :email)")


async def remember_accounts(session: AsyncSession, *, accounts: Sequence[tuple[str, str | None]]) -> None:
    """Record `(user id, email)` pairs (new users, or a changed address); the last one per user wins."""
    latest = {user_id: normalize_email(email) if email else None for user_id, email in accounts}
    if latest:
        await session.execute(_REMEMBER, {"user_ids": list(latest), "emails": list(latest.values())})


async def forget_account(session: AsyncSession, *, user_id: str) -> None:
    """A deleted user's address no longer counts as an account."""
    await session.execute(_FORGET, {"user_id": user_id})


async def has_account(session: AsyncSession, *, email: str) -> bool:
    """Whether a user with this (normalized) address exists."""
    return bool((await session.execute(_HAS_ACCOUNT, {"email": email})).scalar_one())
