"""identity's routes: parse, call the domain, return a schema. No SQL, no commit here."""

from __future__ import annotations

from fastapi import APIRouter, Request

from identity.deps import DbSession, Deliveries, ServiceKey, Settings
from identity.errors import InvalidSignature, MalformedWebhook, UserNotFound
from identity.schemas import ClaimsRead, WebhookReceipt
from identity.service.claims import get_claims
from identity.service.deliveries import parse_delivery
from identity.webhooks import parse_event, verify_delivery
from shared.errors import InvalidServiceKey, error_responses
from shared.telemetry import current_traceparent

router = APIRouter(prefix="/v1")


@router.post(
    "/webhooks/auth",
    response_model=WebhookReceipt,
    responses=error_responses(InvalidSignature, MalformedWebhook),
    tags=["webhooks"],
)
async def receive_auth_webhook(
    request: Request, deliveries: Deliveries, settings: Settings
) -> WebhookReceipt:
    """The auth provider's user.created / user.updated / user.deleted deliveries (Svix-signed).

    Answered once the delivery is stored and applied: its group commit has committed."""
    body = await request.body()
    delivery_id = verify_delivery(secret=settings.auth_webhook_secret, body=body, headers=request.headers)
    delivery = parse_delivery(
        delivery_id=delivery_id, event=parse_event(body), traceparent=current_traceparent()
    )
    status = await deliveries.submit(delivery)
    return WebhookReceipt(status=status, delivery_id=delivery_id)


@router.get(
    "/users/{user_id}/claims",
    response_model=ClaimsRead,
    dependencies=[ServiceKey],
    responses=error_responses(InvalidServiceKey, UserNotFound),
    tags=["claims"],
)
async def read_claims(user_id: str, session: DbSession) -> ClaimsRead:
    """The claims a token for this user would carry (trusted backends only: X-Service-Key)."""
    return await get_claims(session, user_id=user_id)
