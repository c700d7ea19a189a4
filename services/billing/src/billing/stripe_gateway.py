"""Outbound calls to Stripe (or stripe-mock), and verification of Stripe's webhooks.

Each call is sent with an idempotency key (so a retry never makes a second customer or session)
and retried with tenacity on connection errors only; after the last attempt the caller gets
`PaymentProviderUnavailable` (503) and nothing was changed on our side.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import stripe
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from billing.errors import InvalidSignature, MalformedEvent, PaymentProviderError, PaymentProviderUnavailable
from billing.settings import BillingSettings
from shared.http.signatures import BadSignature, verify_timestamped

T = TypeVar("T")
log = logging.getLogger(__name__)
# Stripe's own five-minute tolerance for the signature's timestamp.
SIGNATURE_TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


class StripeGateway:
    def __init__(self, settings: BillingSettings) -> None:
        base = {"api": settings.stripe_api_base} if settings.stripe_api_base else None
        self._client = stripe.StripeClient(
            settings.stripe_api_key,
            base_addresses=base,  # type: ignore[arg-type]
            max_network_retries=0,  # tenacity retries, below
            http_client=stripe.HTTPXClient(timeout=settings.stripe_timeout_seconds),
        )
        self._attempts = settings.stripe_attempts
        self._webhook_secret = settings.stripe_webhook_secret
        self._settings = settings

    async def _call(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(stripe.APIConnectionError),
                stop=stop_after_attempt(self._attempts),
                wait=wait_exponential_jitter(initial=0.2, max=2),
                reraise=True,
            ):
                with attempt:
                    return await call()
        except stripe.APIConnectionError as error:
            raise PaymentProviderUnavailable(
                f"Stripe could not be reached to {what}; retry shortly"
            ) from error
        except stripe.StripeError as error:
            log.error("Stripe refused to %s: %s", what, error)
            raise PaymentProviderError(f"Stripe refused to {what}") from error
        raise AssertionError("unreachable")  # pragma: no cover

    async def create_customer(self, *, org_id: str, kind: str) -> str:
        """One Stripe customer per org (the idempotency key is the org's)."""
        customer = await self._call(
            "create a customer",
            lambda: self._client.v1.customers.create_async(
                params={"metadata": {"org_id": org_id, "kind": kind}},
                options={"idempotency_key": f"customer-{org_id}"},
            ),
        )
        return str(customer.id)

    async def create_checkout_session(
        self, *, customer_id: str, org_id: str, plan: str, price_id: str, quantity: int, idempotency_key: str
    ) -> CheckoutSession:
        metadata = {"org_id": org_id, "plan": plan}
        session = await self._call(
            "start a checkout",
            lambda: self._client.v1.checkout.sessions.create_async(
                params={
                    "mode": "subscription",
                    "customer": customer_id,
                    "client_reference_id": org_id,
                    "line_items": [{"price": price_id, "quantity": quantity}],
                    "success_url": self._settings.checkout_success_url,
                    "cancel_url": self._settings.checkout_cancel_url,
                    "metadata": metadata,
                    "subscription_data": {"metadata": metadata},
                },
                options={"idempotency_key": idempotency_key},
            ),
        )
        return CheckoutSession(id=str(session.id), url=str(session.url))

    async def create_portal_session(self, *, customer_id: str, idempotency_key: str) -> str:
        session = await self._call(
            "open the billing portal",
            lambda: self._client.v1.billing_portal.sessions.create_async(
                params={"customer": customer_id, "return_url": self._settings.portal_return_url},
                options={"idempotency_key": idempotency_key},
            ),
        )
        return str(session.url)

    async def cancel_subscription(self, *, subscription_id: str, idempotency_key: str) -> None:
        """Cancel at once with a prorated credit for the unused time (a conversion to a team plan)."""
        await self._call(
            "cancel a subscription",
            lambda: self._client.v1.subscriptions.cancel_async(
                subscription_id,
                params={"prorate": True, "invoice_now": True},
                options={"idempotency_key": idempotency_key},
            ),
        )

    def verify_event(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        """The event Stripe signed, as plain JSON; `InvalidSignature` if it is not genuine (any
        malformed header included: shared.http.signatures), verified on the raw body."""
        try:
            verify_timestamped(
                secret=self._webhook_secret,
                header=signature,
                name="Stripe-Signature",
                body=payload,
                now=time.time(),
                tolerance_seconds=SIGNATURE_TOLERANCE_SECONDS,
            )
        except BadSignature as error:
            refused = f"the Stripe-Signature header does not verify this body: {error.message}"
            raise InvalidSignature(refused) from error
        try:
            event = json.loads(payload)
        except ValueError as error:  # signed, but not JSON (or not UTF-8)
            raise MalformedEvent("the signed body is not JSON") from error
        if not (
            isinstance(event, dict)
            and isinstance(event.get("id"), str)
            and isinstance(event.get("type"), str)
            and isinstance(event.get("created"), int)
            and 0 <= event["created"] < 2**63  # seconds, stored as a bigint
            and isinstance(event.get("data"), dict)
            and isinstance(event["data"].get("object"), dict)
        ):
            raise MalformedEvent("the signed body is not a Stripe event (id, type, created, data.object)")
        return event
