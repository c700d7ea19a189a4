"""billing's routes: parse, call the domain, return a schema. No SQL, no commit here."""

from __future__ import annotations

from fastapi import APIRouter

from billing.deps import DbSession, ServiceKey
from billing.errors import SubscriptionNotFound
from billing.schemas import SubscriptionRead
from billing.service.subscriptions import get_subscription
from shared.errors import InvalidServiceKey, error_responses

router = APIRouter(prefix="/v1")


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
