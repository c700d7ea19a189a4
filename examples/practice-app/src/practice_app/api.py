"""The example's HTTP API: a user's features (from the events it consumed) and practice sessions
gated on billing's quota. Every error answers `{"error": {"code", "message", ...}}` as the
platform's services do, and is listed in the OpenAPI document."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backbone_client.bearer import BEARER_RESPONSES, BearerClaims
from backbone_client.client import PlatformClient
from backbone_client.errors import NotFound, PlatformError, QuotaExceeded, Unavailable
from practice_app.db import org_plans, practice_sessions

router = APIRouter(prefix="/v1")


class Features(BaseModel):
    org_id: str
    plan: str
    features: dict[str, bool]


class SessionQuota(BaseModel):
    used: int
    limit: int | None
    remaining: int | None
    resets_at: datetime | None


class PracticeSession(BaseModel):
    id: uuid.UUID
    org_id: str
    user_id: str
    sessions: SessionQuota


class AppError(Exception):
    """An error answer of the example: status, code, message and extra fields."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def _error(
    status: int, code: str | list[str], description: str, **extra: Any
) -> dict[int | str, dict[str, Any]]:
    named = {"const": code} if isinstance(code, str) else {"enum": code}
    properties: dict[str, Any] = {"code": named, "message": {"type": "string"}}
    properties |= {name: schema for name, schema in extra.items()}
    schema = {
        "type": "object",
        "properties": {
            "error": {"type": "object", "properties": properties, "required": ["code", "message"]}
        },
        "required": ["error"],
    }
    return {status: {"description": description, "content": {"application/json": {"schema": schema}}}}


NO_ORG = _error(409, "not_provisioned", "The token names no org yet (the signup is still being provisioned)")
UNKNOWN_ORG = _error(404, "org_not_found", "No subscription.changed has arrived for the token's org yet")
QUOTA = _error(
    402,
    "quota_exceeded",
    "This month's practice sessions are used up; `upgrade_to` names the next plan",
    limit={"type": ["integer", "null"]},
    used={"type": "integer"},
    upgrade_to={"type": ["string", "null"]},
)
# The bearer dependency's own 503 (keys_unavailable) shares the status: one entry names both.
UNAVAILABLE = _error(
    503,
    ["billing_unavailable", "keys_unavailable"],
    "billing, or the token issuer's keys, could not be reached; retry shortly",
)
BILLING_UNKNOWN_ORG = _error(404, "org_not_found", "billing does not know the token's org")
BILLING_ERROR = _error(502, "billing_error", "billing answered an error this app does not expect")


def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


def _platform(request: Request) -> PlatformClient:
    platform: PlatformClient = request.app.state.platform
    return platform


Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(_sessions)]
Platform = Annotated[PlatformClient, Depends(_platform)]


def _org_of(claims: BearerClaims) -> str:
    if not claims.org_id:
        raise AppError(409, "not_provisioned", "the token names no org yet")
    return claims.org_id


@router.get(
    "/me/features",
    response_model=Features,
    responses={**BEARER_RESPONSES, **NO_ORG, **UNKNOWN_ORG},
)
async def read_features(claims: BearerClaims, sessions: Sessions) -> Features:
    """The token's org's plan and feature flags, as the last `subscription.changed` said."""
    org_id = _org_of(claims)
    async with sessions() as session:
        row = (await session.execute(select(org_plans).where(org_plans.c.org_id == org_id))).first()
    if row is None:
        raise AppError(404, "org_not_found", f"no plan known for org {org_id} yet")
    return Features(org_id=org_id, plan=row.plan, features=row.features)


@router.post(
    "/practice-sessions",
    status_code=201,
    response_model=PracticeSession,
    responses={**BEARER_RESPONSES, **NO_ORG, **QUOTA, **BILLING_UNKNOWN_ORG, **BILLING_ERROR, **UNAVAILABLE},
)
async def start_practice_session(
    claims: BearerClaims, sessions: Sessions, platform: Platform
) -> PracticeSession:
    """One practice session: one unit of the org's monthly quota at billing (keyed by the new
    session's id, so the client's retries never use two), then the session is recorded."""
    org_id = _org_of(claims)
    session_id = uuid.uuid4()
    try:
        use = await platform.consume_sessions(org_id, idempotency_key=f"practice-session:{session_id}")
    except QuotaExceeded as refused:
        raise AppError(
            402,
            "quota_exceeded",
            "this month's practice sessions are used up",
            limit=refused.limit,
            used=refused.used,
            upgrade_to=refused.upgrade_to,
        ) from refused
    except NotFound as error:
        raise AppError(404, "org_not_found", error.message) from error
    except Unavailable as error:
        raise AppError(503, "billing_unavailable", "billing could not be reached; retry shortly") from error
    except PlatformError as error:
        raise AppError(502, "billing_error", f"billing answered {error.status} {error.code}") from error
    async with sessions.begin() as session:
        await session.execute(
            insert(practice_sessions).values(id=session_id, org_id=org_id, user_id=claims.user_id)
        )
    quota = SessionQuota(used=use.used, limit=use.limit, remaining=use.remaining, resets_at=use.resets_at)
    return PracticeSession(id=session_id, org_id=org_id, user_id=claims.user_id, sessions=quota)


def install_errors(app: FastAPI) -> None:
    async def answer(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, AppError)
        body = {"code": error.code, "message": error.message, **error.extra}
        headers = {"Retry-After": "2"} if error.status == 503 else None
        return JSONResponse({"error": body}, status_code=error.status, headers=headers)

    app.add_exception_handler(AppError, answer)
