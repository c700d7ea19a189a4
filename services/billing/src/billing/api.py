"""billing's routes: parse, call the domain, return a schema. No SQL, no commit here."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from billing.catalog import load_catalog
from billing.deps import (
    CurrentPrincipal,
    DbSession,
    PlainPool,
    PrincipalOrService,
    ServiceKey,
    Stripe,
    StripeSessionsLimiter,
)
from billing.errors import (
    AlreadyOnPlan,
    Forbidden,
    InvalidSignature,
    MalformedEvent,
    OrgNotFound,
    PaymentProviderError,
    PaymentProviderUnavailable,
    PlanKindMismatch,
    PlanNotPurchasable,
    QuotaExceeded,
    ReservationNotFound,
    SubscriptionNotFound,
    UnknownPlan,
)
from billing.quota_lane import refused
from billing.schemas import (
    CheckoutRead,
    CheckoutRequest,
    ConsumeRead,
    ConsumeRequest,
    Entitlements,
    GaugeRead,
    PlanRead,
    PlansRead,
    PortalRead,
    ReserveRequest,
    StripeEvent,
    SubscriptionRead,
    WebhookRead,
)
from billing.service.access import require_member
from billing.service.checkout import open_portal, start_checkout
from billing.service.entitlements import get_entitlements
from billing.service.meters import MeterAnswer, consume_sessions, release_scenario, reserve_scenario
from billing.service.stripe_events import receive_stripe_event
from billing.service.subscriptions import get_subscription
from shared.auth import BEARER_ERRORS, BEARER_OR_SERVICE_ERRORS
from shared.errors import DomainError, InvalidServiceKey, error_responses
from shared.http.ids import OrgIdText
from shared.http.openapi import raw_json_body
from shared.http.ratelimit import RateLimited
from shared.metrics import count_on_commit, count_webhook, count_webhook_rejected, declare_webhook_outcomes

router = APIRouter(prefix="/v1")
# Exported at 0 from the start, so the first rejection shows on a graph (shared.metrics).
declare_webhook_outcomes(
    "stripe", outcomes=("ignored",), rejections=(InvalidSignature.code, MalformedEvent.code)
)


def _quota_responses() -> dict[int | str, dict[str, Any]]:
    responses = error_responses(*BEARER_OR_SERVICE_ERRORS, OrgNotFound, QuotaExceeded)
    # The error body, with three more fields in `error` (API.md).
    responses[402]["description"] += " — `error` also carries `limit`, `used` and `upgrade_to`"
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
    responses=error_responses(InvalidServiceKey, OrgNotFound, SubscriptionNotFound),
    tags=["subscriptions"],
)
async def read_subscription(org_id: OrgIdText, session: DbSession) -> SubscriptionRead:
    """The org's plan, limits and features (trusted backends only: X-Service-Key)."""
    return await get_subscription(session, org_id=org_id)


@router.get(
    "/orgs/{org_id}/entitlements",
    response_model=Entitlements,
    responses=error_responses(*BEARER_OR_SERVICE_ERRORS, OrgNotFound),
    tags=["quotas"],
)
async def read_entitlements(
    org_id: OrgIdText, session: DbSession, principal: PrincipalOrService
) -> Entitlements:
    """Plan, status, features, limits and current usage of the org (members, or a trusted backend)."""
    await require_member(session, org_id=org_id, principal=principal)
    return await get_entitlements(session, org_id=org_id)


@router.post(
    "/orgs/{org_id}/meters/sessions/consume",
    response_model=ConsumeRead,
    responses=_quota_responses(),
    tags=["quotas"],
)
async def consume_session(
    org_id: OrgIdText, body: ConsumeRequest, pool: PlainPool, principal: PrincipalOrService
) -> ConsumeRead | JSONResponse:
    """Count practice sessions against this calendar month's limit; the same key, the same answer."""
    answer = await consume_sessions(
        pool,
        org_id=org_id,
        quantity=body.quantity,
        idempotency_key=body.idempotency_key,
        member=None if principal is None else principal.user_id,  # a person must be a member
    )
    if not answer.accepted:
        return _refused(answer, what="sessions this month")
    return ConsumeRead(
        used=answer.used, limit=answer.limit, remaining=answer.remaining, resets_at=answer.resets_at
    )


@router.post(
    "/orgs/{org_id}/meters/scenarios/reserve",
    response_model=GaugeRead,
    responses=_quota_responses(),
    tags=["quotas"],
)
async def reserve(
    org_id: OrgIdText, body: ReserveRequest, session: DbSession, principal: PrincipalOrService
) -> GaugeRead | JSONResponse:
    """Hold one scenario against the plan's limit."""
    await require_member(session, org_id=org_id, principal=principal)
    answer = await reserve_scenario(session, org_id=org_id, idempotency_key=body.idempotency_key)
    if not answer.accepted:
        return _refused(answer, what="scenarios")
    return GaugeRead(used=answer.used, limit=answer.limit, remaining=answer.remaining)


@router.post(
    "/orgs/{org_id}/meters/scenarios/release",
    response_model=GaugeRead,
    responses=error_responses(*BEARER_OR_SERVICE_ERRORS, OrgNotFound, ReservationNotFound),
    tags=["quotas"],
)
async def release(
    org_id: OrgIdText, body: ReserveRequest, session: DbSession, principal: PrincipalOrService
) -> GaugeRead:
    """Give back the scenario reserved under the same key, once; no reservation → 404."""
    await require_member(session, org_id=org_id, principal=principal)
    answer = await release_scenario(session, org_id=org_id, idempotency_key=body.idempotency_key)
    return GaugeRead(used=answer.used, limit=answer.limit, remaining=answer.remaining)


@router.post(
    "/orgs/{org_id}/checkout",
    response_model=CheckoutRead,
    responses=error_responses(
        *BEARER_ERRORS,
        OrgNotFound,
        Forbidden,
        AlreadyOnPlan,
        UnknownPlan,
        PlanKindMismatch,
        PlanNotPurchasable,
        PaymentProviderUnavailable,
        PaymentProviderError,
        RateLimited,
    ),
    tags=["stripe"],
)
async def checkout(
    org_id: OrgIdText,
    body: CheckoutRequest,
    session: DbSession,
    principal: CurrentPrincipal,
    stripe: Stripe,
    limiter: StripeSessionsLimiter,
) -> CheckoutRead:
    """A Stripe Checkout URL for a plan of the org's kind (team orgs: admins only). Checkout and
    portal sessions are limited per org (429 `rate_limited` with `Retry-After`)."""
    return await start_checkout(
        session,
        stripe,
        org_id=org_id,
        plan_code=body.plan,
        interval=body.interval,
        principal=principal,
        before_stripe=lambda: limiter.hit(org_id),
    )


@router.post(
    "/orgs/{org_id}/portal",
    response_model=PortalRead,
    responses=error_responses(
        *BEARER_ERRORS, OrgNotFound, Forbidden, PaymentProviderUnavailable, PaymentProviderError, RateLimited
    ),
    tags=["stripe"],
)
async def portal(
    org_id: OrgIdText,
    session: DbSession,
    principal: CurrentPrincipal,
    stripe: Stripe,
    limiter: StripeSessionsLimiter,
) -> PortalRead:
    """A Stripe customer-portal URL for the org (team orgs: admins only); limited per org with
    checkout (429 `rate_limited` with `Retry-After`)."""
    url = await open_portal(
        session, stripe, org_id=org_id, principal=principal, before_stripe=lambda: limiter.hit(org_id)
    )
    return PortalRead(url=url)


@router.post(
    "/webhooks/stripe",
    response_model=WebhookRead,
    responses=error_responses(InvalidSignature, MalformedEvent),
    tags=["stripe"],
    openapi_extra=raw_json_body(StripeEvent),  # read raw: the Stripe-Signature covers its bytes
)
async def stripe_webhook(
    request: Request,
    session: DbSession,
    stripe: Stripe,
    stripe_signature: Annotated[str | None, Header()] = None,
) -> WebhookRead:
    """A Stripe event, verified, stored once by its id and applied in the same transaction."""
    try:
        event = stripe.verify_event(await request.body(), stripe_signature)
        status = await receive_stripe_event(session, event=event)
    except DomainError as error:
        count_webhook_rejected("stripe", error.code)
        raise
    count_on_commit(session, count_webhook("stripe", status))
    return WebhookRead(status=status)


def _refused(answer: MeterAnswer, *, what: str) -> JSONResponse:
    # Returned, not raised: the refusal is committed under its idempotency key, so a replay of
    # the key gets this same answer. The same body as the quota lane's (billing.quota_lane).
    status, body = refused(answer, what=what)
    return JSONResponse(body, status_code=status)
