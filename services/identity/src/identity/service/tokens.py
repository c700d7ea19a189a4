"""Issuing access tokens: the user's claims for one org, signed by the active key."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from identity.errors import NotProvisioned
from identity.schemas import TokenRead
from identity.service.claims import get_claims, use_org
from identity.service.signing_keys import ensure_active_key, load_active_key


@dataclass(frozen=True)
class TokenPolicy:
    """What every token names and how long it lives (from settings)."""

    issuer: str
    audience: str
    ttl_seconds: int
    passphrase: str


async def issue_token(
    session: AsyncSession, *, user_id: str, org_id: str | None, policy: TokenPolicy
) -> TokenRead:
    """A token for the user's active org, or for `org_id` (which then becomes their active org)."""
    if org_id is not None:
        await use_org(session, user_id=user_id, org_id=org_id)
    claims = await get_claims(session, user_id=user_id)
    if claims.org_id is None:
        raise NotProvisioned(f"user {user_id} has no workspace yet; retry once it is created")
    key = await load_active_key(session, passphrase=policy.passphrase)
    if key is None:  # normally created at start; a fresh database may get here first
        await ensure_active_key(session, passphrase=policy.passphrase)
        key = await load_active_key(session, passphrase=policy.passphrase)
        assert key is not None
    issued_at = int(time.time())
    payload = {
        "sub": user_id,
        "org_id": claims.org_id,
        "org_role": claims.org_role,
        "is_personal_org": claims.is_personal_org,
        "plan": claims.plan,
        "iss": policy.issuer,
        "aud": policy.audience,
        "iat": issued_at,
        "exp": issued_at + policy.ttl_seconds,
    }
    token = jwt.encode(payload, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid})
    return TokenRead(access_token=token, expires_in=policy.ttl_seconds, claims=claims)
