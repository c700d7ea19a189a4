"""billing's routes: parse, call the domain, return a schema. No SQL, no commit here."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from billing.catalog import load_catalog
from billing.deps import DbSession, ServiceKey
from billing.errors import OrgNotFound, QuotaExceeded, SubscriptionNotFound
from billing.schemas import (
    ConsumeRead,
    ConsumeRequest,
    Entitlements,
    GaugeRead,
    PlanRead,
    PlansRead,
    QuotaExceededBody,
    ReserveRequest,
    SubscriptionRead,
)
from billing.service.entitlements import get_entitlements
from billing.service.meters import MeterAnswer, consume_sessions, release_scenario, reserve_scenario
from billing.service.subscriptions import get_subscription
from shared.errors import InvalidServiceKey, error_responses

router = APIRouter(prefix="/v1")


def _quota_responses() -> dict[int | str, dict[str, Any]]:
    responses = error_responses(InvalidServiceKey, OrgNotFound)
    responses[402] = {"model": QuotaExceededBody, "description": "error codes: `quota_exceeded`"}
    return responses


@router.get("/plans", response_model=PlansRead, responses=error_responses(), tags=["plans"])
async def list_plans() -> PlansRead:
    """Every plan, grouped as the pricing page's Individual / Team toggle shows them."""
    catalog = load_catalog()
    return PlansRead(
        individual=[PlanRead.of(plan) for plan in catalog.of_kind("personal")],
        team=[PlanRead.of(plan) for plan in catalog.of_kind("team")],
    )


@router.get(
    "/orgs/{org_id}/subscription",
    response_model=SubscriptionRead,
    dependencies=[ServiceKey],
    responses=error_responses(InvalidServiceKey, SubscriptionNotFound),
    tags=["subscriptions"],
)
async def read_subscription(org_id: str, session: DbSession) -> SubscriptionRead:
    """The org's plan, limits and features (trusted backends only: X-Service-Key)."""
    return await get_subscription(session, org_id=org_id)


@router.get(
    "/orgs/{org_id}/entitlements",
    response_model=Entitlements,
    dependencies=[ServiceKey],
    responses=error_responses(InvalidServiceKey, OrgNotFound),
    tags=["quotas"],
)
async def read_entitlements(org_id: str, session: DbSession) -> Entitlements:
    """Plan, status, features, limits and current usage of the org."""
    return await get_entitlements(session, org_id=org_id)


@router.post(
    "/orgs/{org_id}/meters/sessions/consume",
    response_model=ConsumeRead,
    dependencies=[ServiceKey],
    responses=_quota_responses(),
    tags=["quotas"],
)
async def consume_session(
    org_id: str, body: ConsumeRequest, session: DbSession
) -> ConsumeRead | JSONResponse:
    """Count practice sessions against this calendar month's limit; the same key, the same answer."""
    answer = await consume_sessions(
        session, org_id=org_id, quantity=body.quantity, idempotency_key=body.idempotency_key
    )
    if not answer.accepted:
        return _refused(answer, what="sessions this month")
    return ConsumeRead(
        used=answer.used, limit=answer.limit, remaining=answer.remaining, resets_at=answer.resets_at
    )


@router.post(
    "/orgs/{org_id}/meters/scenarios/reserve",
    response_model=GaugeRead,
    dependencies=[ServiceKey],
    responses=_quota_responses(),
    tags=["quotas"],
)
async def reserve(org_id: str, body: ReserveRequest, session: DbSession) -> GaugeRead | JSONResponse:
    """Hold one scenario against the plan's limit."""
    answer = await reserve_scenario(session, org_id=org_id, idempotency_key=body.idempotency_key)
    if not answer.accepted:
        return _refused(answer, what="scenarios")
    return GaugeRead(used=answer.used, limit=answer.limit, remaining=answer.remaining)


@router.post(
    "/orgs/{org_id}/meters/scenarios/release",
    response_model=GaugeRead,
    dependencies=[ServiceKey],
    responses=error_responses(InvalidServiceKey, OrgNotFound),
    tags=["quotas"],
)
async def release(org_id: str, body: ReserveRequest, session: DbSession) -> GaugeRead:
    """Give one scenario back."""
    answer = await release_scenario(session, org_id=org_id, idempotency_key=body.idempotency_key)
    return GaugeRead(used=answer.used, limit=answer.limit, remaining=answer.remaining)


def _refused(answer: MeterAnswer, *, what: str) -> JSONResponse:
    # Returned, not raised: the refusal is committed under its idempotency key, so a replay of
    # the key gets this same answer.
    error = QuotaExceeded(
        f"the plan allows {answer.limit} {what}",
        limit=answer.limit,
        used=answer.used,
        upgrade_to=answer.upgrade_to,
    )
    return JSONResponse(error.body(), status_code=error.status)
