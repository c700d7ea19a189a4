"""identity's routes: parse, call the domain, return a schema. No SQL, no commit here."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response

from identity.deps import (
    DbSession,
    Deliveries,
    OperatorKey,
    PlainPool,
    Policy,
    ServiceKey,
    Settings,
    TokenMintKey,
)
from identity.errors import InvalidSignature, MalformedWebhook, NotAMember, NotProvisioned, UserNotFound
from identity.schemas import (
    ClaimsRead,
    ClerkUserDelivery,
    Jwks,
    KeyRotated,
    TokenRead,
    TokenRequest,
    WebhookReceipt,
)
from identity.service.claims import read_claims_in_one_call
from identity.service.deliveries import parse_delivery
from identity.service.signing_keys import published_keys, rotate_signing_key
from identity.service.tokens import issue_token
from identity.webhooks import parse_event, verify_delivery
from shared.errors import DomainError, InvalidServiceKey, error_responses
from shared.http.openapi import raw_json_body
from shared.metrics import count_webhook, count_webhook_rejected, declare_webhook_outcomes
from shared.telemetry import current_traceparent

router = APIRouter(prefix="/v1")
# Exported at 0 from the start, so the first rejection shows on a graph (shared.metrics).
declare_webhook_outcomes("auth", rejections=(InvalidSignature.code, MalformedWebhook.code))
well_known = APIRouter(prefix="/.well-known")

# Verifiers refetch on an unknown kid anyway; a short shared-cache lifetime only spares identity.
JWKS_CACHE_CONTROL = "public, max-age=60"


@router.post(
    "/webhooks/auth",
    response_model=WebhookReceipt,
    responses=error_responses(InvalidSignature, MalformedWebhook),
    tags=["webhooks"],
    openapi_extra=raw_json_body(ClerkUserDelivery),  # read raw: the Svix signature covers its bytes
)
async def receive_auth_webhook(
    request: Request, deliveries: Deliveries, settings: Settings
) -> WebhookReceipt:
    """The auth provider's user.created / user.updated / user.deleted deliveries (Svix-signed).

    Answered once the delivery is stored and applied: its group commit has committed."""
    body = await request.body()
    try:
        delivery_id = verify_delivery(secret=settings.auth_webhook_secret, body=body, headers=request.headers)
        delivery = parse_delivery(
            delivery_id=delivery_id, event=parse_event(body), traceparent=current_traceparent()
        )
    except DomainError as error:
        count_webhook_rejected("auth", error.code)
        raise
    status = await deliveries.submit(delivery)  # committed by its group commit when it returns
    count_webhook("auth", status).inc()
    return WebhookReceipt(status=status, delivery_id=delivery_id)


@router.get(
    "/users/{user_id}/claims",
    response_model=ClaimsRead,
    dependencies=[ServiceKey],
    responses=error_responses(InvalidServiceKey, UserNotFound),
    tags=["claims"],
)
async def read_claims(user_id: str, pool: PlainPool) -> ClaimsRead:
    """The claims a token for this user would carry (trusted backends only: X-Service-Key)."""
    return await read_claims_in_one_call(pool, user_id=user_id)


@router.post(
    "/tokens",
    response_model=TokenRead,
    dependencies=[TokenMintKey],
    responses=error_responses(InvalidServiceKey, UserNotFound, NotAMember, NotProvisioned),
    tags=["tokens"],
)
async def create_token(body: TokenRequest, session: DbSession, policy: Policy) -> TokenRead:
    """An access token for a user (trusted backends only). With `org_id`, that org becomes the
    user's active org; without it, the token is for their active org."""
    return await issue_token(session, user_id=body.user_id, org_id=body.org_id, policy=policy)


@router.post(
    "/signing-keys/rotate",
    response_model=KeyRotated,
    dependencies=[OperatorKey],
    responses=error_responses(InvalidServiceKey),
    tags=["tokens"],
)
async def rotate_keys(session: DbSession, settings: Settings) -> KeyRotated:
    """Operators: publish a new signing key now; it signs from `activates_at` (after
    IDENTITY_KEY_PUBLISH_DELAY_SECONDS), when the old key stops; the old key stays in the JWKS
    until the tokens it signed have expired (same as `python -m identity.keys rotate`)."""
    rotation = await rotate_signing_key(
        session,
        passphrase=settings.signing_key_passphrase,
        publish_delay=timedelta(seconds=settings.key_publish_delay_seconds),
    )
    return KeyRotated(kid=rotation.kid, retired_kid=rotation.retired_kid, activates_at=rotation.activates_at)


@well_known.get("/jwks.json", response_model=Jwks, responses=error_responses(), tags=["tokens"])
async def read_jwks(session: DbSession, settings: Settings, response: Response) -> Jwks:
    """The public keys access tokens are verified with: the active key and every retired key
    whose tokens may still be valid."""
    retired_for = timedelta(seconds=settings.token_ttl_seconds + settings.token_leeway_seconds)
    response.headers["Cache-Control"] = JWKS_CACHE_CONTROL
    return Jwks(keys=await published_keys(session, retired_for=retired_for))
