"""identity's routes: parse, call the domain, return a schema. No SQL, no commit here."""

from __future__ import annotations

from fastapi import APIRouter, Request

from identity.deps import DbSession, ServiceKey, Settings
from identity.errors import InvalidSignature, MalformedWebhook, UserNotFound
from identity.schemas import ClaimsRead, WebhookReceipt
from identity.service.claims import get_claims
from identity.service.deliveries import process_delivery
from identity.webhooks import parse_event, verify_delivery
from shared.errors import InvalidServiceKey, error_responses

router = APIRouter(prefix="/v1")


@router.post(
    "/webhooks/auth",
    response_model=WebhookReceipt,
    responses=error_responses(InvalidSignature, MalformedWebhook),
    tags=["webhooks"],
)
async def receive_auth_webhook(request: Request, session: DbSession, settings: Settings) -> WebhookReceipt:
    """The auth provider's user.created / user.updated / user.deleted deliveries (Svix-signed)."""
    body = await request.body()
    delivery_id = verify_delivery(secret=settings.auth_webhook_secret, body=body, headers=request.headers)
    event = parse_event(body)
    status = await process_delivery(session, delivery_id=delivery_id, event=event)
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
