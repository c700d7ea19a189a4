"""Verifying the platform's access tokens against identity's JWKS, as the services do.

The token: ES256 or EdDSA with a `kid` header; claims `sub`, `org_id`, `org_role`,
`is_personal_org`, `plan`, `iss`, `aud`, `iat`, `exp`. The keys are cached; a token naming a `kid`
the cache lacks triggers a refetch, at most once per `refetch_interval` seconds (a stream of
invented kids costs identity one request per interval, never one per token), concurrent
verifications share one fetch, and the cache is refetched once it is `max_age` old. If identity
cannot be reached, cached keys keep verifying for `stale_grace` seconds more, then verification
fails with `KeysUnavailable` (answer 503, never accept on an unbounded cache).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import httpx
import jwt
from jwt import PyJWK, PyJWKSet
from jwt.exceptions import InvalidTokenError, PyJWKError, PyJWKSetError
from pydantic import BaseModel, ConfigDict

ALLOWED_ALGORITHMS = ("ES256", "EdDSA")
REQUIRED_CLAIMS = ("sub", "iss", "aud", "iat", "exp")


class InvalidToken(Exception):
    """Missing, malformed, expired, forged, wrong-audience or unknown-key token (401 invalid_token)."""


class KeysUnavailable(Exception):
    """The issuer's keys cannot be fetched and the cache is too old to trust (503)."""


class TokenClaims(BaseModel):
    """Who a verified token speaks for, and the org it speaks for."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    org_id: str | None = None
    org_role: str | None = None
    is_personal_org: bool | None = None
    plan: str | None = None


@dataclass
class JwksKeys:
    """identity's public keys, fetched from `url` and cached by kid (see the module docstring)."""

    url: str
    refetch_interval: float = 10.0
    max_age: float = 300.0
    stale_grace: float = 300.0
    timeout: float = 5.0
    clock: Callable[[], float] = time.monotonic
    transport: httpx.AsyncBaseTransport | None = None
    fetches: int = field(default=0, init=False)
    _keys: dict[str, PyJWK] = field(default_factory=dict, init=False)
    _fetched_at: float | None = field(default=None, init=False)
    _last_attempt: float | None = field(default=None, init=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    async def key_for(self, kid: str) -> PyJWK | None:
        key = self._keys.get(kid)
        if key is not None and self._age() < self.max_age:
            return key
        async with self._lock:
            if self._should_fetch(kid):
                await self._try_refresh()
            if self._age() >= self.max_age + self.stale_grace:
                raise KeysUnavailable("the token issuer's keys cannot be fetched; retry shortly")
            return self._keys.get(kid)

    def _age(self) -> float:
        return float("inf") if self._fetched_at is None else self.clock() - self._fetched_at

    def _should_fetch(self, kid: str) -> bool:
        if kid in self._keys and self._age() < self.max_age:
            return False  # another verification refreshed while this one waited
        return self._last_attempt is None or self.clock() - self._last_attempt >= self.refetch_interval

    async def _try_refresh(self) -> None:
        self._last_attempt = self.clock()
        self.fetches += 1
        try:
            async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport) as client:
                response = await client.get(self.url)
                response.raise_for_status()
                keys = _parse_jwks(response.json())
        except (httpx.HTTPError, ValueError, PyJWKError):
            return  # the cache stays; its age decides whether it still verifies
        self._fetched_at = self._last_attempt
        # Replace, not merge: a key identity stopped publishing no longer verifies anything.
        self._keys = keys


def _parse_jwks(document: Any) -> dict[str, PyJWK]:
    try:
        key_set = PyJWKSet.from_dict(document)
    except PyJWKSetError:
        return {}
    return {key.key_id: key for key in key_set.keys if key.key_id}


@dataclass
class TokenVerifier:
    """Verifies a bearer token: signature by its kid's key, `iss`, `aud`, `exp` (with leeway), and
    a lifetime no longer than `max_lifetime_seconds` (as the services do)."""

    keys: JwksKeys
    issuer: str = "backbone-identity"
    audience: str = "backbone"
    leeway_seconds: float = 30.0
    max_lifetime_seconds: float = 3600.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> TokenVerifier:
        """PLATFORM_JWKS_URL, PLATFORM_TOKEN_ISSUER, PLATFORM_TOKEN_AUDIENCE,
        PLATFORM_JWKS_REFETCH_INTERVAL_SECONDS: the variables the services read."""
        return cls(
            keys=JwksKeys(
                url=environ.get("PLATFORM_JWKS_URL") or "http://127.0.0.1:8001/.well-known/jwks.json",
                refetch_interval=float(environ.get("PLATFORM_JWKS_REFETCH_INTERVAL_SECONDS") or 10),
            ),
            issuer=environ.get("PLATFORM_TOKEN_ISSUER") or "backbone-identity",
            audience=environ.get("PLATFORM_TOKEN_AUDIENCE") or "backbone",
        )

    async def verify(self, token: str) -> TokenClaims:
        """The claims of a fully valid token; InvalidToken for anything else."""
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
        issued, expires = claims.get("iat"), claims.get("exp")
        lifetime = float(expires) - float(issued) if _number(issued) and _number(expires) else None
        if lifetime is None or lifetime > self.max_lifetime_seconds:
            raise InvalidToken("token lifetime (exp - iat) exceeds the accepted maximum")
        return TokenClaims(
            user_id=str(claims["sub"]),
            org_id=_text(claims.get("org_id")),
            org_role=_text(claims.get("org_role")),
            is_personal_org=_flag(claims.get("is_personal_org")),
            plan=_text(claims.get("plan")),
        )


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
