"""Bearer tokens in a FastAPI product backend: a dependency that yields the verified claims.

    verifier = TokenVerifier.from_env()
    install_bearer_auth(app, verifier)          # the verifier, and the 401/503 error answers

    @app.get("/v1/me/features", responses=BEARER_RESPONSES)
    async def features(claims: BearerClaims) -> ...: ...

A missing, malformed or invalid token answers 401 `{"error": {"code": "invalid_token", ...}}`
with `WWW-Authenticate: Bearer`, as the platform's services do; keys that cannot be fetched
answer 503 `keys_unavailable` with `Retry-After`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from backbone_client.tokens import InvalidToken, KeysUnavailable, TokenClaims, TokenVerifier

_bearer = HTTPBearer(auto_error=False, description="An access token from the platform's identity")


def _error_schema(code: str) -> dict[str, Any]:
    return {
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {"code": {"const": code}, "message": {"type": "string"}},
                            "required": ["code", "message"],
                        }
                    },
                    "required": ["error"],
                }
            }
        }
    }


BEARER_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid bearer token", **_error_schema("invalid_token")},
    503: {"description": "The token issuer's keys cannot be fetched", **_error_schema("keys_unavailable")},
}
"""`responses=` for a route using BearerClaims, so its OpenAPI documents the 401 and 503."""


def install_bearer_auth(app: FastAPI, verifier: TokenVerifier) -> None:
    """Give the app's BearerClaims routes the verifier and the platform's error answers."""
    app.state.token_verifier = verifier
    app.add_exception_handler(InvalidToken, _invalid_token)
    app.add_exception_handler(KeysUnavailable, _keys_unavailable)


async def _claims(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> TokenClaims:
    if credentials is None or not credentials.credentials:
        raise InvalidToken("an `Authorization: Bearer <token>` header is required")
    verifier: TokenVerifier = request.app.state.token_verifier
    return await verifier.verify(credentials.credentials)


BearerClaims = Annotated[TokenClaims, Depends(_claims)]


async def _invalid_token(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": "invalid_token", "message": str(error)}},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


async def _keys_unavailable(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": "keys_unavailable", "message": str(error)}},
        status_code=503,
        headers={"Retry-After": "5"},
    )
