"""The platform's HTTP API for a product backend (API.md), async, on httpx.

    async with PlatformClient(PlatformEndpoints.from_env(), service_key=..., token_mint_key=...) as platform:
        use = await platform.consume_sessions(org_id, idempotency_key=f"session-{session_id}")

Retries: a 503 or 429 answer, or a failure to connect, is retried with exponential backoff up to
`max_attempts` times; a `Retry-After` header (seconds) is honoured, each wait capped at `max_wait`
(so a caller's request is never held for minutes). Every write the client makes carries an
idempotency key, so a retry after a lost answer has the effect of one call.

Errors: 402 `QuotaExceeded` (with `upgrade_to`), 404 `NotFound`, 410 `Gone`, 503/429 after the
retries `Unavailable`, anything else `PlatformError` (all with the body's `code` and `message`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_base, wait_exponential_jitter

from backbone_client.errors import PlatformError, Unavailable, error_for
from backbone_client.models import Claims, Context, Entitlements, MintedToken, QuotaUse

ModelT = TypeVar("ModelT", bound=BaseModel)
RETRIED_STATUSES = (429, 503)


@dataclass(frozen=True)
class PlatformEndpoints:
    """Where the services answer (development: 127.0.0.1:8001, 8002, 8003)."""

    identity: str = "http://127.0.0.1:8001"
    workspace: str = "http://127.0.0.1:8002"
    billing: str = "http://127.0.0.1:8003"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> PlatformEndpoints:
        """PLATFORM_IDENTITY_URL, PLATFORM_WORKSPACE_URL, PLATFORM_BILLING_URL (else development's)."""
        return cls(
            identity=environ.get("PLATFORM_IDENTITY_URL") or cls.identity,
            workspace=environ.get("PLATFORM_WORKSPACE_URL") or cls.workspace,
            billing=environ.get("PLATFORM_BILLING_URL") or cls.billing,
        )


class _RetryAfter(wait_base):
    """The answer's Retry-After when it named one, else exponential backoff with jitter."""

    def __init__(self, backoff: wait_base, max_wait: float) -> None:
        self.backoff = backoff
        self.max_wait = max_wait

    def __call__(self, retry_state: Any) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        after = getattr(error, "retry_after", None)
        if isinstance(after, float):
            return min(after, self.max_wait)
        return float(self.backoff(retry_state))


class _Retryable(Exception):
    """A 503/429 answer or a connection failure, worth another attempt."""

    def __init__(self, error: PlatformError, retry_after: float | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class PlatformClient:
    """One client for identity, workspace and billing; use it as an async context manager (or
    call `aclose()`). Keys: `service_key` (PLATFORM_SERVICE_KEY: claims, entitlements, quotas) and
    `token_mint_key` (PLATFORM_TOKEN_MINT_KEY: `mint_token` only); each is sent only where it
    belongs."""

    def __init__(
        self,
        endpoints: PlatformEndpoints,
        *,
        service_key: str | None = None,
        token_mint_key: str | None = None,
        timeout: float = 10.0,
        max_attempts: int = 4,
        initial_backoff: float = 0.1,
        max_wait: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.endpoints = endpoints
        self._service_key = service_key
        self._token_mint_key = token_mint_key
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)
        self._max_attempts = max_attempts
        self._wait = _RetryAfter(
            wait_exponential_jitter(multiplier=initial_backoff, jitter=initial_backoff, max=max_wait),
            max_wait,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- identity -------------------------------------------------------------------------------

    async def claims(self, user_id: str) -> Claims:
        """The user's claims (404 `user_not_found`... as NotFound)."""
        url = f"{self.endpoints.identity}/v1/users/{_segment(user_id)}/claims"
        return await self._call("GET", url, Claims, key=self._need(self._service_key, "service_key"))

    async def mint_token(self, user_id: str, *, org_id: str | None = None) -> MintedToken:
        """An access token for the user (for `org_id`, else their active org)."""
        body: dict[str, Any] = {"user_id": user_id} | ({"org_id": org_id} if org_id else {})
        url = f"{self.endpoints.identity}/v1/tokens"
        key = self._need(self._token_mint_key, "token_mint_key")
        return await self._call("POST", url, MintedToken, key=key, json=body)

    # --- workspace ------------------------------------------------------------------------------

    async def context(self, bearer_token: str, *, org_id: str | None = None) -> Context:
        """The user's context (plan, features, limits, navigation), asked as the user."""
        url = f"{self.endpoints.workspace}/v1/me/context"
        params = {"org_id": org_id} if org_id else None
        return await self._call("GET", url, Context, bearer=bearer_token, params=params)

    # --- billing --------------------------------------------------------------------------------

    async def entitlements(self, org_id: str) -> Entitlements:
        url = f"{self.endpoints.billing}/v1/orgs/{_segment(org_id)}/entitlements"
        return await self._call("GET", url, Entitlements, key=self._need(self._service_key, "service_key"))

    async def consume_sessions(self, org_id: str, *, idempotency_key: str, quantity: int = 1) -> QuotaUse:
        """Use `quantity` (1-10) practice sessions of this month; QuotaExceeded when they are used
        up. The same key always gets the same answer (a retry never uses twice)."""
        return await self._meter(
            org_id, "sessions/consume", {"quantity": quantity, "idempotency_key": idempotency_key}
        )

    async def reserve_scenario(self, org_id: str, *, idempotency_key: str) -> QuotaUse:
        return await self._meter(org_id, "scenarios/reserve", {"idempotency_key": idempotency_key})

    async def release_scenario(self, org_id: str, *, idempotency_key: str) -> QuotaUse:
        """Give back the reservation made with the same key (NotFound `reservation_not_found`)."""
        return await self._meter(org_id, "scenarios/release", {"idempotency_key": idempotency_key})

    async def _meter(self, org_id: str, action: str, body: dict[str, Any]) -> QuotaUse:
        url = f"{self.endpoints.billing}/v1/orgs/{_segment(org_id)}/meters/{action}"
        key = self._need(self._service_key, "service_key")
        return await self._call("POST", url, QuotaUse, key=key, json=body)

    # --- the one request path -------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        url: str,
        model: type[ModelT],
        *,
        key: str | None = None,
        bearer: str | None = None,
        **kwargs: Any,
    ) -> ModelT:
        headers = {"X-Service-Key": key} if key else {"Authorization": f"Bearer {bearer}"}
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=self._wait,
            retry=retry_if_exception(lambda error: isinstance(error, _Retryable)),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return model.model_validate(await self._once(method, url, headers, **kwargs))
        except _Retryable as exhausted:
            raise exhausted.error from None
        raise AssertionError("unreachable: tenacity either returned or raised")

    async def _once(self, method: str, url: str, headers: dict[str, str], **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, url, headers=headers, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            raise _Retryable(Unavailable(503, "unreachable", repr(error)), None) from error
        if response.is_success:
            return response.json()
        answered = error_for(response.status_code, _json_or_text(response))
        if response.status_code in RETRIED_STATUSES:
            raise _Retryable(answered, _retry_after(response))
        raise answered

    @staticmethod
    def _need(key: str | None, name: str) -> str:
        if not key:
            raise ValueError(f"this call needs the client's {name}")
        return key


def _segment(value: str) -> str:
    """A path id, quoted whole, so that no id can step into another path (`../`, `?`)."""
    return quote(value, safe="")


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds (an HTTP date is rare from the platform; treated as absent)."""
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
