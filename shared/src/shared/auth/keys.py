"""identity's public keys, fetched from its JWKS and cached by `kid`.

A token naming a `kid` we do not hold triggers a refetch, at most once per `refetch_interval`
seconds per process (an attacker inventing kids costs identity one request per interval), and
concurrent requests share one fetch.

The cache also expires: once the last good fetch is `max_age` seconds old, the next verification
refetches first (on the request's path, one fetch shared by concurrent requests), so a key identity
stopped publishing stops verifying within `max_age` (plus one refetch interval if the fetch just
before failed). If identity cannot be reached then, the cached keys keep verifying for at most
`stale_grace` seconds more (a short outage of identity does not log everyone out), after which
every token is answered 503 until a fetch succeeds: fail closed, never an unbounded cache.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from jwt import PyJWK, PyJWKSet
from jwt.exceptions import PyJWKError, PyJWKSetError

from shared.errors import ServiceUnavailable

log = logging.getLogger(__name__)


class KeySource(Protocol):
    """Where a verifier finds the public key a token names."""

    async def key_for(self, kid: str) -> PyJWK | None: ...


def parse_jwks(document: Any) -> dict[str, PyJWK]:
    """The usable signing keys of a JWKS document, by `kid` (keys without a kid are skipped)."""
    try:
        key_set = PyJWKSet.from_dict(document)
    except PyJWKSetError:
        # No usable key at all (e.g. an empty set): nothing to verify with, not an error.
        return {}
    return {key.key_id: key for key in key_set.keys if key.key_id}


@dataclass
class JwksKeySource:
    """Keys from a JWKS URL, cached; refetched on an unknown kid (rate-limited) and once the cache
    is `max_age` old; past `max_age + stale_grace` without a good fetch, nothing verifies."""

    url: str
    refetch_interval: float = 10.0
    timeout: float = 5.0
    max_age: float = 300.0
    stale_grace: float = 300.0
    clock: Callable[[], float] = time.monotonic
    _keys: dict[str, PyJWK] = field(default_factory=dict, init=False)
    _fetched_at: float | None = field(default=None, init=False)
    _last_attempt: float | None = field(default=None, init=False)
    _last_failed: bool = field(default=False, init=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    fetches: int = field(default=0, init=False)

    async def key_for(self, kid: str) -> PyJWK | None:
        key = self._keys.get(kid)
        if key is not None and self._age() < self.max_age:
            return key
        async with self._lock:
            # Another request may have refreshed the keys while this one waited for the lock.
            if self._should_fetch(kid):
                try:
                    await self._refresh()
                except ServiceUnavailable:
                    if kid in self._keys and self._age() < self.max_age + self.stale_grace:
                        return self._keys[kid]  # identity unreachable: the grace, bounded
                    raise
            if self._age() >= self.max_age + self.stale_grace:
                # Fetches keep failing (or were tried just now): the cache is too old to trust.
                raise ServiceUnavailable("the token issuer's keys cannot be fetched; retry shortly")
            key = self._keys.get(kid)
            if key is None and self._last_failed:
                raise ServiceUnavailable("the token issuer's keys cannot be fetched; retry shortly")
        return key

    def _age(self) -> float:
        """Seconds since the last good fetch (infinite before the first)."""
        return float("inf") if self._fetched_at is None else self.clock() - self._fetched_at

    def _should_fetch(self, kid: str) -> bool:
        """An expired cache is refetched at once (then not again before `max_age`); an unknown kid,
        or retries after a failed fetch, at most once per refetch interval."""
        if self._age() >= self.max_age and not self._last_failed:
            return True
        return (kid not in self._keys or self._age() >= self.max_age) and self._may_fetch()

    def _may_fetch(self) -> bool:
        return self._last_attempt is None or self.clock() - self._last_attempt >= self.refetch_interval

    async def _refresh(self) -> None:
        self._last_attempt = self.clock()
        self.fetches += 1
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.get(self.url)
                response.raise_for_status()
                keys = parse_jwks(response.json())
        except (httpx.HTTPError, ValueError, PyJWKError) as error:
            self._last_failed = True
            log.warning("JWKS fetch from %s failed: %r", self.url, error)
            raise ServiceUnavailable("the token issuer's keys cannot be fetched; retry shortly") from error
        self._last_failed = False
        self._fetched_at = self._last_attempt
        # Replace, not merge: a key identity stopped publishing no longer verifies anything.
        self._keys = keys


@dataclass
class StaticKeySource:
    """A fixed set of public keys (identity verifying with its own keys, or tests)."""

    keys: dict[str, PyJWK]

    async def key_for(self, kid: str) -> PyJWK | None:
        return self.keys.get(kid)
