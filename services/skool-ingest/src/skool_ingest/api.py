"""skool_ingest's routes: parse, call the domain, return a schema. No SQL, no commit here."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Request, status
from pydantic import ValidationError

from shared.db.tables import utcnow
from shared.errors import DomainError, InvalidServiceKey, error_responses
from shared.metrics import count_webhook, count_webhook_rejected, declare_webhook_outcomes
from shared.telemetry import current_traceparent
from skool_ingest.deps import DbSession, Deliveries, OperatorKey, Rejections, Settings
from skool_ingest.errors import InvalidDelivery, InvalidSignature, UnknownEvent
from skool_ingest.schemas import KNOWN_EVENTS, RejectionCounts, SkoolDelivery, WebhookReceipt
from skool_ingest.service.deliveries import Delivery
from skool_ingest.signature import HEADER, REASONS, SignatureRejected, verify_signature

router = APIRouter(prefix="/v1")
# Exported at 0 from the start, so the first rejection shows on a graph (shared.metrics).
declare_webhook_outcomes("skool", rejections=(*REASONS, InvalidDelivery.code, UnknownEvent.code))


@router.post(
    "/webhooks/skool",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookReceipt,
    responses=error_responses(InvalidSignature, InvalidDelivery, UnknownEvent),
    tags=["webhooks"],
    # The body is read raw (the signature covers its exact bytes); its format, for the docs:
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SkoolDelivery.model_json_schema()}},
        }
    },
)
async def receive_skool_webhook(
    request: Request, deliveries: Deliveries, settings: Settings, rejections: Rejections
) -> WebhookReceipt:
    """A Skool member subscribed or cancelled (the automation's signed POST, API.md).

    202 once the delivery is stored and applied ("accepted"), or was seen before ("duplicate").
    Refused deliveries are counted by reason in memory (no database work), not stored."""
    received_at = utcnow()
    raw = await request.body()
    try:
        signed_at = verify_signature(
            secret=settings.webhook_secret,
            header=request.headers.get(HEADER),
            body=raw,
            now=time.time(),
            tolerance_seconds=settings.signature_tolerance_seconds,
        )
        text, body = parse_body(raw)
    except SignatureRejected as error:
        rejections.count(error.reason)
        count_webhook_rejected("skool", error.reason)
        raise
    except DomainError as error:
        rejections.count(error.code)
        count_webhook_rejected("skool", error.code)
        raise
    delivery = Delivery(
        body=body,
        raw=text,
        signed_at=signed_at,
        received_at=received_at,
        traceparent=current_traceparent(),
    )
    status = await deliveries.submit(delivery)  # committed by its group commit when it returns
    count_webhook("skool", status).inc()
    return WebhookReceipt.model_validate({"status": status})


@router.get(
    "/webhooks/skool/rejections",
    response_model=RejectionCounts,
    dependencies=[OperatorKey],
    responses=error_responses(InvalidServiceKey),
    tags=["webhooks"],
)
async def read_rejections(session: DbSession, rejections: Rejections) -> RejectionCounts:
    """Operators (X-Service-Key): deliveries refused so far, by reason (every replica's flushed
    counts plus this replica's pending ones: docs/skool.md)."""
    return RejectionCounts(rejections=await rejections.totals(session))


def parse_body(raw: bytes) -> tuple[str, SkoolDelivery]:
    """The body as text (stored as it arrived) and the delivery in it; 422 unknown_event or
    validation_error otherwise."""
    try:
        text = raw.decode("utf-8")
        decoded: Any = json.loads(text)
    except ValueError as error:  # not UTF-8, or not JSON
        raise InvalidDelivery(f"the body is not UTF-8 JSON: {error}") from error
    if "\x00" in text:
        raise InvalidDelivery("the body must not contain NUL characters")
    if not isinstance(decoded, dict):
        raise InvalidDelivery("the body must be a JSON object")
    event = decoded.get("event")
    if event is not None and event not in KNOWN_EVENTS:
        raise UnknownEvent(f"event {event!r} is not one of {', '.join(KNOWN_EVENTS)}")
    try:
        return text, SkoolDelivery.model_validate(decoded)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise InvalidDelivery(problems) from error
