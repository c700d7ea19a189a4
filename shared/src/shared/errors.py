"""The error model: domain errors carry their HTTP status; one handler maps them all.

Every error response has the body `{"error": {"code": ..., "message": ...}}`.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class DomainError(Exception):
    """Base of every error a service raises on purpose; subclasses set `status` and `code`."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    # Response headers this error may carry (name → description; integer values), for the OpenAPI.
    documented_headers: ClassVar[dict[str, str]] = {}

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def headers(self) -> dict[str, str]:
        """Headers of this error's response (e.g. `Retry-After` of a 429)."""
        return {}


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class InvalidServiceKey(Unauthorized):
    """A trusted-backend route called without the right `X-Service-Key` (API.md)."""

    code = "invalid_service_key"


class InvalidToken(Unauthorized):
    """A bearer token that is missing, malformed, expired, forged, for another audience or issuer,
    or signed by a key the issuer does not publish (API.md)."""

    code = "invalid_token"


class ServiceUnavailable(DomainError):
    """A dependency (the database) cannot be reached; the caller should retry."""

    status = 503
    code = "service_unavailable"


# SQLSTATEs that mean "the server is not there for us right now", not "this statement is wrong":
# class 08 (connection exceptions), admin/crash shutdown, the server still starting or recovering
# (57P03, seen while PostgreSQL replays its WAL after a kill -9), too many connections.
_UNAVAILABLE_SQLSTATES = {"57P01", "57P02", "57P03", "53300"}


def is_infrastructure_error(error: BaseException | None) -> bool:
    """Connection-level failures (database or network down, or no pooled connection free in time),
    as opposed to a bad request or message."""
    if isinstance(error, (OSError, TimeoutError, ConnectionError, PoolTimeout)):
        return True
    if isinstance(error, DBAPIError):
        sqlstate = str(getattr(error.orig, "sqlstate", None) or "")
        if error.connection_invalidated or sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_SQLSTATES:
            return True
    # The plain asyncpg pool's hot paths (a quota consume, a claims read) see asyncpg's own errors:
    # a closed or lost connection, or the server refusing connections for now.
    if isinstance(error, asyncpg.InterfaceError):
        return True
    if isinstance(error, asyncpg.PostgresError):
        sqlstate = str(getattr(error, "sqlstate", None) or "")
        return sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_SQLSTATES
    return isinstance(error, (OperationalError, InterfaceError))


class UnstorableText(DomainError):
    """A text value PostgreSQL cannot store: a NUL character (`\\u0000`), or a lone surrogate
    that is not UTF-8 at all. Any field of any route can carry one; mapped here once."""

    status = 422
    code = "validation_error"


# character_not_in_repertoire (NUL in text), untranslatable_character (`\u0000` in jsonb).
_UNSTORABLE_TEXT_SQLSTATES = {"22021", "22P05"}


def is_unstorable_text(error: BaseException | None) -> bool:
    """The database (or its driver, encoding the value) refused a text value a request carried."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, UnicodeEncodeError):
            return True
        orig = getattr(error, "orig", None)
        for candidate in (error, orig):
            if str(getattr(candidate, "sqlstate", None) or "") in _UNSTORABLE_TEXT_SQLSTATES:
                return True
        error = orig if isinstance(orig, BaseException) else error.__cause__
    return False


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    """Every error response: `{"error": {"code", "message"}}`."""

    error: ErrorDetail


class _ValidationFailed(DomainError):
    status = 422
    code = "validation_error"


def error_responses(*errors: type[DomainError]) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of a route that can raise `errors`: grouped by status, each
    listing its codes, plus the 422 and 503 any route can answer."""
    by_status: dict[int, list[str]] = {}
    headers: dict[int, dict[str, Any]] = {}
    always: tuple[type[DomainError], ...] = (_ValidationFailed, ServiceUnavailable)
    for error in (*errors, *always):
        codes = by_status.setdefault(error.status, [])
        if error.code not in codes:
            codes.append(error.code)
        for name, description in error.documented_headers.items():
            headers.setdefault(error.status, {})[name] = {
                "description": description,
                "schema": {"type": "integer"},
            }
    return {
        status: {
            "model": ErrorBody,
            "description": "error codes: " + ", ".join(f"`{c}`" for c in codes),
            **({"headers": headers[status]} if status in headers else {}),
        }
        for status, codes in sorted(by_status.items())
    }


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors, validation errors, HTTP errors and anything unexpected, once."""

    @app.exception_handler(DomainError)
    async def _domain(_: Request, error: DomainError) -> JSONResponse:
        return JSONResponse(
            error_body(error.code, error.message), status_code=error.status, headers=error.headers or None
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors()
        )
        return JSONResponse(error_body("validation_error", problems), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 400:
            # FastAPI's answer to a body it cannot decode at all (not UTF-8); a body that decodes
            # but is not JSON is a 422 `validation_error` already, so this one is too.
            return JSONResponse(error_body("validation_error", f"body: {error.detail}"), status_code=422)
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(error.detail)), status_code=error.status_code, headers=error.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        if is_unstorable_text(error):
            return await _domain(request, UnstorableText("a text value contains a NUL or is not UTF-8"))
        if is_infrastructure_error(error):
            log.warning("dependency unavailable: %r", error)
            unavailable = ServiceUnavailable("a dependency is unavailable; retry shortly")
            return JSONResponse(
                error_body(unavailable.code, unavailable.message),
                status_code=unavailable.status,
                headers={"Retry-After": "1"},
            )
        log.exception("unhandled error", exc_info=error)
        return JSONResponse(error_body("internal_error", "unexpected server error"), status_code=500)

    # The same answers, given inside the app for the errors a request's values can cause: what
    # reaches the `Exception` handler is re-raised by Starlette once answered, and uvicorn then
    # drops the connection (a client on keep-alive saw a reset instead of its 422).
    for kind in (DBAPIError, asyncpg.PostgresError, asyncpg.InterfaceError, UnicodeEncodeError):
        app.add_exception_handler(kind, _unexpected)
