"""Verifying an access token: signature (ES256 or EdDSA) by the key its `kid` names, then
`iss`, `aud`, `exp` (with a small leeway), the presence of every claim a principal needs, and a
lifetime (`exp - iat`) no longer than the configured maximum."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard

import jwt
from jwt.exceptions import InvalidTokenError

from shared.auth.keys import JwksKeySource, KeySource
from shared.auth.principal import Principal
from shared.errors import InvalidToken
from shared.settings import ServiceSettings

# Asymmetric only: a token claiming `none` or an HMAC algorithm is refused before any key lookup.
ALLOWED_ALGORITHMS = ("ES256", "EdDSA")
REQUIRED_CLAIMS = ("sub", "iss", "aud", "iat", "exp")


@dataclass
class TokenVerifier:
    keys: KeySource
    issuer: str
    audience: str
    leeway_seconds: float = 30.0
    # A token meant to live longer than this is refused even when validly signed: whoever holds a
    # signing key (leaked, or retired and still cached) cannot mint long-lived tokens with it.
    max_lifetime_seconds: float = 3600.0

    async def verify(self, token: str) -> Principal:
        """The principal a token speaks for; raises `InvalidToken` for anything not fully valid."""
        try:
            header = jwt.get_unverified_header(token)
        except InvalidTokenError as error:
            raise InvalidToken(f"malformed token: {error}") from error
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in ALLOWED_ALGORITHMS:
            raise InvalidToken(f"token algorithm {algorithm!r} is not accepted")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("token header names no key (kid)")
        key = await self.keys.key_for(kid)
        if key is None:
            raise InvalidToken(f"token signed by an unknown key {kid!r}")
        if key.algorithm_name != algorithm:
            raise InvalidToken("token algorithm does not match its key")
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_seconds,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except InvalidTokenError as error:
            raise InvalidToken(f"token rejected: {error}") from error
        lifetime = _lifetime(claims)
        if lifetime is None or lifetime > self.max_lifetime_seconds:
            raise InvalidToken("token lifetime (exp - iat) exceeds the accepted maximum")
        return Principal.from_claims(claims)


def _lifetime(claims: dict[str, Any]) -> float | None:
    """`exp - iat` (PyJWT checked both are numbers); None if either is not (a bool, say)."""
    issued, expires = claims.get("iat"), claims.get("exp")
    if not (_is_number(issued) and _is_number(expires)):
        return None
    return float(expires) - float(issued)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def verifier_from_settings(settings: ServiceSettings) -> TokenVerifier:
    """The verifier a service runs with: identity's JWKS over HTTP, cached (see keys.py)."""
    return TokenVerifier(
        keys=JwksKeySource(
            url=settings.jwks_url,
            refetch_interval=settings.jwks_refetch_interval_seconds,
            timeout=settings.jwks_fetch_timeout_seconds,
            max_age=settings.jwks_max_age_seconds,
            stale_grace=settings.jwks_stale_grace_seconds,
        ),
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        leeway_seconds=settings.token_leeway_seconds,
        max_lifetime_seconds=settings.token_max_lifetime_seconds,
    )
