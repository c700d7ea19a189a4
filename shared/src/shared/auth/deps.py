"""FastAPI dependencies: `CurrentPrincipal` (a bearer token) and `PrincipalOrService` (a trusted
backend's service key, else a bearer token).

They read what `install_auth` put on `app.state` (the service runtime does it for every service).
Routes using them should list `BEARER_ERRORS` / `BEARER_OR_SERVICE_ERRORS` in their
`error_responses(...)`, so the 401 is documented.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from shared.auth.principal import Principal
from shared.auth.verifier import TokenVerifier
from shared.errors import InvalidServiceKey, InvalidToken
from shared.http.deps import key_matches

BEARER_ERRORS = (InvalidToken,)
BEARER_OR_SERVICE_ERRORS = (InvalidToken, InvalidServiceKey)

# auto_error=False: a missing or non-Bearer header must answer our own 401 error body.
_bearer = HTTPBearer(auto_error=False, description="An access token from identity's POST /v1/tokens")
_service_key = APIKeyHeader(
    name="X-Service-Key",
    scheme_name="PLATFORM_SERVICE_KEY",
    auto_error=False,
    description="`PLATFORM_SERVICE_KEY` (trusted product backends); any other key is refused",
)


@dataclass(frozen=True)
class AuthConfig:
    verifier: TokenVerifier
    service_key: str


def install_auth(app: FastAPI, *, verifier: TokenVerifier, service_key: str) -> None:
    """Give an app's routes the verifier and service key the dependencies below use."""
    app.state.auth = AuthConfig(verifier=verifier, service_key=service_key)


def _config(request: Request) -> AuthConfig:
    config: AuthConfig = request.app.state.auth
    return config


async def _current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise InvalidToken("an `Authorization: Bearer <token>` header is required")
    return await _config(request).verifier.verify(credentials.credentials)


async def _principal_or_service(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    service_key: Annotated[str | None, Depends(_service_key)],
) -> Principal | None:
    """None for a trusted backend (right service key); a wrong key is refused, never ignored."""
    config = _config(request)
    if service_key is not None:
        if not key_matches(service_key, config.service_key):
            raise InvalidServiceKey("the X-Service-Key header is not valid")
        return None
    if credentials is None or not credentials.credentials:
        raise InvalidToken("an `Authorization: Bearer <token>` or `X-Service-Key` header is required")
    return await config.verifier.verify(credentials.credentials)


CurrentPrincipal = Annotated[Principal, Depends(_current_principal)]
PrincipalOrService = Annotated[Principal | None, Depends(_principal_or_service)]
