"""Stripe's webhooks, applied: stored once by event id, then applied in the same transaction.

Among events about one org's Stripe subscription, the newest `created` wins: an event older than
the last one applied (`subscriptions.stripe_event_created`) is stored and changes nothing.
Statuses map as API.md says: active/trialing → the paid plan; past_due → the paid plan during the
grace (the lapse job applies the free limits after it); canceled/unpaid/incomplete_expired (or a
deleted subscription) → the kind's free plan; `cancel_at_period_end` keeps the plan until the
period ends.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from billing.catalog import Plan, load_catalog
from billing.errors import MalformedEvent
from billing.models import Subscription
from billing.service.subscriptions import apply_change, lock_subscription
from shared.metrics import UPGRADES, count_on_commit
from shared.telemetry import current_traceparent

log = logging.getLogger(__name__)

HANDLED = {
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
}
PAID = {"active", "trialing"}
_YEAR_10000 = 253_402_300_800
ENDED = {"canceled", "unpaid", "incomplete_expired"}

_STORE = text(
    "INSERT INTO stripe_events (event_id, event_type, created, org_id, outcome, payload, traceparent) "
    "VALUES (:event_id, :event_type, :created, :org_id, :outcome, CAST(:payload AS jsonb), :traceparent) "
    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)
_SET_OUTCOME = text(
    "UPDATE stripe_events SET outcome = :outcome, org_id = :org_id WHERE event_id = :event_id"
)
_LINK = text(
    "INSERT INTO stripe_links (stripe_id, org_id) VALUES (:stripe_id, :org_id) "
    "ON CONFLICT (stripe_id) DO NOTHING"
)
_LINKED_ORG = text("SELECT org_id FROM stripe_links WHERE stripe_id = ANY(:ids) LIMIT 1")


async def receive_stripe_event(session: AsyncSession, *, event: dict[str, Any]) -> str:
    """Store a verified Stripe event and apply it: `processed`, `duplicate` or `ignored`."""
    event_type = str(event.get("type", ""))
    stored = await session.execute(
        _STORE,
        {
            "event_id": event["id"],
            "event_type": event_type,
            "created": int(event.get("created") or 0),
            "org_id": None,
            "outcome": "received",
            "payload": json.dumps(event),
            "traceparent": current_traceparent(),  # the request's: `devstack trace` shows it
        },
    )
    if stored.first() is None:
        return "duplicate"
    org_id: str | None = None
    if event_type not in HANDLED:
        outcome = "ignored"
    else:
        obj: dict[str, Any] = event.get("data", {}).get("object", {}) or {}
        try:
            org_id = await _org_of(session, obj)
            if org_id is None:
                log.warning("Stripe event %s (%s) names no org billing knows", event["id"], event_type)
                outcome = "ignored"
            else:
                outcome = await _apply(
                    session, event_type=event_type, created=int(event["created"]), obj=obj, org_id=org_id
                )
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as error:
            # Rolled back with the request: nothing stored, Stripe will show the 400.
            raise MalformedEvent(f"the {event_type} event's object is not as Stripe sends it") from error
    await session.execute(_SET_OUTCOME, {"event_id": event["id"], "outcome": outcome, "org_id": org_id})
    return outcome


async def link(session: AsyncSession, *, stripe_id: str, org_id: str) -> None:
    """Remember which org a Stripe customer or subscription belongs to."""
    await session.execute(_LINK, {"stripe_id": stripe_id, "org_id": org_id})


async def _org_of(session: AsyncSession, obj: dict[str, Any]) -> str | None:
    metadata = obj.get("metadata") or {}
    if metadata.get("org_id"):
        return str(metadata["org_id"])
    if obj.get("client_reference_id"):
        return str(obj["client_reference_id"])
    ids = [value for value in (_subscription_id(obj), _customer_id(obj)) if value]
    if not ids:
        return None
    found = (await session.execute(_LINKED_ORG, {"ids": ids})).scalar()
    return None if found is None else str(found)


async def _apply(
    session: AsyncSession, *, event_type: str, created: int, obj: dict[str, Any], org_id: str
) -> str:
    subscription = await lock_subscription(session, org_id=org_id)
    if subscription is None:
        return "ignored"
    if event_type == "checkout.session.completed":
        return await _checkout_completed(session, subscription, obj)
    if subscription.stripe_event_created is not None and created < subscription.stripe_event_created:
        return "ignored"  # stale: something newer about this subscription was applied
    if event_type.startswith("customer.subscription."):
        outcome = await _subscription_event(
            session, subscription, obj, deleted=event_type.endswith("deleted")
        )
    else:
        outcome = await _invoice_event(session, subscription, obj, paid=event_type == "invoice.paid")
    if outcome == "processed":
        subscription.stripe_event_created = created
        session.add(subscription)
    return outcome


async def _checkout_completed(session: AsyncSession, subscription: Subscription, obj: dict[str, Any]) -> str:
    """The payment went through: remember the customer and subscription; the plan itself comes
    from the subscription's own events (they carry the price)."""
    for stripe_id in (_customer_id(obj), _subscription_id(obj)):
        if stripe_id:
            await link(session, stripe_id=stripe_id, org_id=subscription.org_id)
    subscription.stripe_customer_id = _customer_id(obj) or subscription.stripe_customer_id
    if _subscription_id(obj) and subscription.stripe_subscription_id is None:
        subscription.stripe_subscription_id = _subscription_id(obj)
    session.add(subscription)
    return "processed"


async def _subscription_event(
    session: AsyncSession, subscription: Subscription, obj: dict[str, Any], *, deleted: bool
) -> str:
    stripe_id = str(obj.get("id", ""))
    current = subscription.stripe_subscription_id
    if deleted and current is not None and current != stripe_id:
        return "ignored"  # the end of a subscription the org has already moved on from
    plan = _plan_of(obj)
    if plan is None or plan.kind != subscription.kind:
        # An unknown price, or an individual subscription ending after its org became a team.
        return "ignored"
    await link(session, stripe_id=stripe_id, org_id=subscription.org_id)
    subscription.stripe_subscription_id = stripe_id
    subscription.stripe_customer_id = _customer_id(obj) or subscription.stripe_customer_id
    status = "canceled" if deleted else str(obj.get("status", ""))
    period_end = _period_end(obj)
    cancel_at_period_end = bool(obj.get("cancel_at_period_end", False))
    if status in PAID or status == "past_due":
        if status in PAID and (subscription.plan != plan.code or subscription.status not in PAID):
            count_on_commit(session, UPGRADES.labels(plan.code))
        subscription.stripe_plan = plan.code
        if status == "past_due":
            subscription.past_due_since = subscription.past_due_since or datetime.now(UTC)
        else:
            subscription.past_due_since = None
        await apply_change(
            session,
            subscription,
            plan=plan,
            status=status,
            current_period_end=period_end,
            cancel_at_period_end=cancel_at_period_end,
        )
        return "processed"
    if status in ENDED:
        subscription.past_due_since = None
        await apply_change(
            session,
            subscription,
            plan=load_catalog().free_plan(subscription.kind),
            status="canceled",
            clear_period_end=True,
            cancel_at_period_end=False,
        )
        return "processed"
    return "ignored"  # incomplete: nothing is paid yet


async def _invoice_event(
    session: AsyncSession, subscription: Subscription, obj: dict[str, Any], *, paid: bool
) -> str:
    stripe_id = _subscription_id(obj)
    if (
        stripe_id is None
        or stripe_id != subscription.stripe_subscription_id
        or subscription.stripe_plan is None
    ):
        return "ignored"
    plan = load_catalog().get(subscription.stripe_plan)
    if paid:
        if subscription.status != "past_due":
            return "processed"  # a renewal: nothing changes (the subscription event moves the period)
        subscription.past_due_since = None
        await apply_change(session, subscription, plan=plan, status="active")
        return "processed"
    if subscription.status == "canceled":
        return "ignored"
    subscription.past_due_since = subscription.past_due_since or datetime.now(UTC)
    await apply_change(session, subscription, status="past_due")
    return "processed"


def _plan_of(obj: dict[str, Any]) -> Plan | None:
    items = (obj.get("items") or {}).get("data") or []
    if not items:
        return None
    price = items[0].get("price") or {}
    price_id = price.get("id") if isinstance(price, dict) else price
    return load_catalog().by_stripe_price(str(price_id)) if price_id else None


def _period_end(obj: dict[str, Any]) -> datetime | None:
    # Newer API versions keep the period on the subscription's items.
    raw = obj.get("current_period_end")
    if raw is None:
        items = (obj.get("items") or {}).get("data") or []
        raw = items[0].get("current_period_end") if items else None
    if not raw:
        return None
    seconds = int(raw)
    if not 0 < seconds < _YEAR_10000:  # what datetime can hold; Stripe sends Unix seconds
        raise ValueError(f"current_period_end {raw!r} is not a time")
    return datetime.fromtimestamp(seconds, UTC)


def _customer_id(obj: dict[str, Any]) -> str | None:
    customer = obj.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    return str(customer) if customer else None


def _subscription_id(obj: dict[str, Any]) -> str | None:
    if obj.get("object") == "subscription":
        return str(obj["id"])
    value = obj.get("subscription")
    if value is None:
        # Newer invoices: parent.subscription_details.subscription.
        details = ((obj.get("parent") or {}).get("subscription_details")) or {}
        value = details.get("subscription")
    if isinstance(value, dict):
        value = value.get("id")
    return str(value) if value else None
