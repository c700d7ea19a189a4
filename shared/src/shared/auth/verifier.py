"""Verifying an access token: signature (ES256 or EdDSA) by the key its `kid` names, then
`iss`, `aud`, `exp` (with a small leeway) and the presence of every claim a principal needs."""

from __future__ import annotations

from dataclasses import dataclass

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
        return Principal.from_claims(claims)


def verifier_from_settings(settings: ServiceSettings) -> TokenVerifier:
    """The verifier a service runs with: identity's JWKS over HTTP, cached (see keys.py)."""
    return TokenVerifier(
        keys=JwksKeySource(
            url=settings.jwks_url,
            refetch_interval=settings.jwks_refetch_interval_seconds,
            timeout=settings.jwks_fetch_timeout_seconds,
        ),
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        leeway_seconds=settings.token_leeway_seconds,
    )
